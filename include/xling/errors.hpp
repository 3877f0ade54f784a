// Typed exceptions thrown by the xling library. Only cli/ and server/ catch them:
// the CLI prints the message and exits 1, the server answers 4xx/5xx with a JSON body.
// Every message names the file, key or value at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace xling {

// Base of every error xling throws on purpose (bad input, missing files, ...).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A value given by the caller or found in a config file is invalid.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file could not be opened, read, written, or its bytes are malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

// The checkpoint uses an architecture, dtype or format xling does not (yet) run.
class UnsupportedModel : public Error {
 public:
  using Error::Error;
};

}  // namespace xling
