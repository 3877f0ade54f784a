// Post-processors (see post_processors.hpp), with HF tokenizers' semantics.
#include "tokenize/post_processors.hpp"

#include <fmt/format.h>

#include <map>

#include "core/json.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

Encoding default_process(Encoding a, std::optional<Encoding> b) {
  if (b) {
    for (auto& t : b->type_ids) t = 1;
    a.append(*b);
  }
  return a;
}

namespace {

struct SpecialEntry {
  std::vector<int> ids;
  std::vector<std::string> tokens;
};

struct Piece {
  bool is_sequence;
  int sequence;     // 0 = A, 1 = B
  std::string special;
  int type_id;
};

class Template : public PostProcessor {
 public:
  Template(std::vector<Piece> single, std::vector<Piece> pair, std::map<std::string, SpecialEntry> specials)
      : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

  std::size_t added_tokens(bool pair) const override {
    std::size_t n = 0;
    for (const auto& p : pair ? pair_ : single_) {
      if (!p.is_sequence) n += specials_.at(p.special).ids.size();
    }
    return n;
  }

  Encoding process(Encoding a, std::optional<Encoding> b, bool add_special, std::string_view, std::string_view) const override {
    if (!add_special) return default_process(std::move(a), std::move(b));
    Encoding out;
    for (const auto& p : b ? pair_ : single_) {
      if (p.is_sequence) {
        Encoding& src = p.sequence == 0 ? a : *b;
        for (std::size_t i = 0; i < src.size(); ++i) {
          out.push(src.ids[i], src.tokens[i], src.offsets[i], p.type_id, src.special[i] != 0, src.sequence[i]);
        }
      } else {
        const SpecialEntry& e = specials_.at(p.special);
        for (std::size_t i = 0; i < e.ids.size(); ++i) out.push(e.ids[i], e.tokens[i], {0, 0}, p.type_id, true, -1);
      }
    }
    return out;
  }

 private:
  std::vector<Piece> single_, pair_;
  std::map<std::string, SpecialEntry> specials_;
};

class ByteLevelPost : public PostProcessor {
 public:
  explicit ByteLevelPost(bool trim) : trim_(trim) {}
  std::size_t added_tokens(bool) const override { return 0; }
  Encoding process(Encoding a, std::optional<Encoding> b, bool, std::string_view oa, std::string_view ob) const override {
    if (trim_) {
      trim(a, oa);
      if (b) trim(*b, ob);
    }
    return default_process(std::move(a), std::move(b));
  }

 private:
  // Offsets exclude the leading/trailing spaces a token carries (as Ġ).
  static void trim(Encoding& e, std::string_view original) {
    for (std::size_t i = 0; i < e.size(); ++i) {
      const std::string& tok = e.tokens[i];
      auto cps = to_codepoints(tok);
      std::size_t lead = 0, trail = 0;
      while (lead < cps.size() && cps[lead] == byte_to_char(' ')) ++lead;
      while (trail < cps.size() - lead && cps[cps.size() - 1 - trail] == byte_to_char(' ')) ++trail;
      auto& [s, en] = e.offsets[i];
      if (lead > 0 && s < en) s = std::min<uint32_t>(en, s + static_cast<uint32_t>(lead));
      if (trail > 0 && en > s) en = std::max<uint32_t>(s, en - static_cast<uint32_t>(trail));
    }
    (void)original;
  }
  bool trim_;
};

class SequencePost : public PostProcessor {
 public:
  explicit SequencePost(std::vector<std::unique_ptr<PostProcessor>> items) : items_(std::move(items)) {}
  std::size_t added_tokens(bool pair) const override {
    std::size_t n = 0;
    for (const auto& p : items_) n += p->added_tokens(pair);
    return n;
  }
  Encoding process(Encoding a, std::optional<Encoding> b, bool add_special, std::string_view oa, std::string_view ob) const override {
    // Each processor sees the previous result as a single sequence, as HF's Sequence does
    // only for processors that do not merge; merging ones (templates) come last in practice.
    for (std::size_t k = 0; k + 1 < items_.size(); ++k) {
      a = items_[k]->process(std::move(a), std::nullopt, add_special, oa, "");
      if (b) b = items_[k]->process(std::move(*b), std::nullopt, add_special, ob, "");
    }
    return items_.empty() ? default_process(std::move(a), std::move(b))
                          : items_.back()->process(std::move(a), std::move(b), add_special, oa, ob);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> items_;
};

std::vector<Piece> parse_template(const nlohmann::json& list, const core::JsonFields& f, const std::string& key) {
  std::vector<Piece> out;
  if (!list.is_array()) f.fail(key, "expected a list of pieces");
  for (const auto& item : list) {
    if (item.is_object() && item.contains("Sequence")) {
      const auto& s = item["Sequence"];
      std::string id = s.value("id", "A");
      out.push_back({true, id == "B" ? 1 : 0, "", s.value("type_id", 0)});
    } else if (item.is_object() && item.contains("SpecialToken")) {
      const auto& s = item["SpecialToken"];
      if (!s.contains("id") || !s["id"].is_string()) f.fail(key, "SpecialToken without an id");
      out.push_back({false, 0, s["id"].get<std::string>(), s.value("type_id", 0)});
    } else if (item.is_string()) {  // compact form "[CLS]" / "$A" / "$B:1"
      std::string s = item.get<std::string>();
      int type_id = 0;
      auto colon = s.rfind(':');
      if (colon != std::string::npos && colon + 1 < s.size() &&
          s.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        type_id = std::stoi(s.substr(colon + 1));
        s = s.substr(0, colon);
      }
      if (s == "$A" || s == "$") out.push_back({true, 0, "", type_id});
      else if (s == "$B") out.push_back({true, 1, "", type_id});
      else out.push_back({false, 0, s, type_id});
    } else {
      f.fail(key, fmt::format("unknown template piece {}", core::json_excerpt(item)));
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string where = source + ": post_processor";
  core::JsonFields f(j, where);
  std::string type = f.string("type");
  if (type == "TemplateProcessing") {
    std::map<std::string, SpecialEntry> specials;
    if (f.has("special_tokens")) {
      const auto& st = f.raw("special_tokens");
      if (!st.is_object()) f.fail("special_tokens", "expected an object");
      for (const auto& [name, e] : st.items()) {
        SpecialEntry entry;
        if (!e.is_object() || !e.contains("ids") || !e.contains("tokens") || !e["ids"].is_array() ||
            !e["tokens"].is_array() || e["ids"].size() != e["tokens"].size()) {
          f.fail("special_tokens", fmt::format("entry '{}' needs equally long 'ids' and 'tokens'", name));
        }
        for (const auto& id : e["ids"]) {
          if (!id.is_number_integer()) f.fail("special_tokens", fmt::format("entry '{}': ids must be integers", name));
          entry.ids.push_back(id.get<int>());
        }
        for (const auto& t : e["tokens"]) entry.tokens.push_back(t.is_string() ? t.get<std::string>() : t.dump());
        specials[name] = std::move(entry);
      }
    }
    auto single = parse_template(f.raw("single"), f, "single");
    auto pair = f.has("pair") ? parse_template(f.raw("pair"), f, "pair") : single;
    for (const auto* list : {&single, &pair}) {
      for (const auto& p : *list) {
        if (!p.is_sequence && !specials.count(p.special)) {
          f.fail("special_tokens", fmt::format("template uses '{}', which special_tokens does not define", p.special));
        }
      }
    }
    return std::make_unique<Template>(std::move(single), std::move(pair), std::move(specials));
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto read = [&](const char* key) -> std::pair<std::string, int> {
      const auto& v = f.raw(key);
      if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer()) {
        f.fail(key, "expected [token, id]");
      }
      return {v[0].get<std::string>(), v[1].get<int>()};
    };
    auto [sep, sep_id] = read("sep");
    auto [cls, cls_id] = read("cls");
    std::map<std::string, SpecialEntry> specials = {{cls, {{cls_id}, {cls}}}, {sep, {{sep_id}, {sep}}}};
    std::vector<Piece> single = {{false, 0, cls, 0}, {true, 0, "", 0}, {false, 0, sep, 0}};
    std::vector<Piece> pair;
    if (type == "BertProcessing") {
      pair = {{false, 0, cls, 0}, {true, 0, "", 0}, {false, 0, sep, 0}, {true, 1, "", 1}, {false, 0, sep, 1}};
    } else {
      pair = {{false, 0, cls, 0}, {true, 0, "", 0}, {false, 0, sep, 0}, {false, 0, sep, 0}, {true, 1, "", 0}, {false, 0, sep, 0}};
    }
    auto tmpl = std::make_unique<Template>(std::move(single), std::move(pair), std::move(specials));
    if (type == "RobertaProcessing" && f.boolean_or("trim_offsets", true)) {
      std::vector<std::unique_ptr<PostProcessor>> seq;
      seq.push_back(std::make_unique<ByteLevelPost>(true));
      seq.push_back(std::move(tmpl));
      return std::make_unique<SequencePost>(std::move(seq));
    }
    return tmpl;
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelPost>(f.boolean_or("trim_offsets", true));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> items;
    const auto& list = f.raw("processors");
    if (!list.is_array()) f.fail("processors", "expected a list");
    for (const auto& item : list) {
      if (auto p = make_post_processor(item, source)) items.push_back(std::move(p));
    }
    return std::make_unique<SequencePost>(std::move(items));
  }
  throw UnsupportedModel(fmt::format("{}: post-processor type '{}' is not supported", where, type));
}

}  // namespace xling::tokenize
