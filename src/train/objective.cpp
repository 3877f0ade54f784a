// Task-independent parts of the objectives (see objective.hpp).
#include "train/objective.hpp"

#include <cmath>
#include <filesystem>
#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "io/bert_config.hpp"
#include "io/decoder_config.hpp"
#include "io/seq2seq_config.hpp"
#include "train/hf_output.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace xling::train {

double EvalResult::metric(const std::string& name) const {
  if (name == "loss") return loss;
  for (const auto& [k, v] : metrics) {
    if (k == name) return v;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::vector<std::vector<std::size_t>> bucketed_batches(const Objective& obj, std::size_t batch, bool shuffle, uint64_t seed,
                                                    int epoch) {
  std::vector<std::size_t> order(obj.train_size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  if (shuffle) {
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t window = batch * 50;
    for (std::size_t s = 0; s < order.size(); s += window) {
      auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + window));
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(s), end,
                       [&](std::size_t a, std::size_t b) { return obj.row_tokens(a) > obj.row_tokens(b); });
    }
  }
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t s = 0; s < order.size(); s += batch) {
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), s + batch)));
  }
  if (shuffle) std::shuffle(out.begin(), out.end(), rng);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> Objective::parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : model_.module->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

void Objective::save(const std::string& dir) const {
  save_config(dir);
  write_tensors(std::filesystem::path(dir) / "model.safetensors", model_tensors(*model_.module));
}

std::vector<std::vector<std::size_t>> Objective::epoch_batches(std::size_t batch, bool shuffle, uint64_t seed, int epoch) const {
  return bucketed_batches(*this, batch, shuffle, seed, epoch);
}

std::string head_architecture(const std::string& arch, Task task) {
  std::string family = arch;
  if (auto p = arch.find("For"); p != std::string::npos) family = arch.substr(0, p);
  else if (arch.size() > 5 && arch.ends_with("Model")) family = arch.substr(0, arch.size() - 5);
  switch (task) {
    case Task::kSeqCls:
    case Task::kPairCls:
    case Task::kCrossEncoder: return family + "ForSequenceClassification";
    case Task::kTokenCls: return family + "ForTokenClassification";
    case Task::kBiEncoder: return family + "Model";
    case Task::kMlm: return family + "ForMaskedLM";
    case Task::kSeq2Seq:   // the checkpoint's own generation class (MarianMTModel, ...)
    case Task::kCausalLm: return arch;
  }
  return arch;
}

std::unique_ptr<Objective> make_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  if (!opt.multitask_path.empty()) return make_multitask_objective(opt, load_dir, report);
  switch (opt.task) {
    case Task::kSeqCls:
    case Task::kPairCls:
    case Task::kTokenCls: return make_classify_objective(opt, load_dir, report);
    case Task::kBiEncoder: return make_embed_objective(opt, load_dir, report);
    case Task::kCrossEncoder: return make_rerank_objective(opt, load_dir, report);
    case Task::kMlm: return make_mlm_objective(opt, load_dir, report);
    case Task::kSeq2Seq: return make_seq2seq_objective(opt, load_dir, report);
    case Task::kCausalLm: return make_causal_lm_objective(opt, load_dir, report);
  }
  throw InvalidArgument("unknown task");
}

namespace detail {

void check_vocabulary(const models::LoadedModel& m, const std::vector<int64_t>& ids, const std::string& where) {
  int64_t vocab = 0;
  if (const auto* bert = dynamic_cast<const io::BertConfig*>(m.config.get())) vocab = bert->vocab_size;
  if (const auto* s2s = dynamic_cast<const io::Seq2SeqConfig*>(m.config.get())) vocab = s2s->vocab_size;
  if (const auto* dec = dynamic_cast<const io::DecoderConfig*>(m.config.get())) vocab = dec->vocab_size;
  if (const auto* bloom = dynamic_cast<const io::BloomConfig*>(m.config.get())) vocab = bloom->vocab_size;
  if (vocab == 0) return;
  for (auto id : ids) {
    if (id < 0 || id >= vocab) {
      throw InvalidArgument(fmt::format("{}: token id {} is outside the model's vocabulary [0, {}) — is the tokenizer the "
                                        "model's?", where, id, vocab));
    }
  }
}

models::LoadOptions training_load_options(const TrainOptions& opt, const std::string& load_dir,
                                          const std::string& base_architecture, Task task) {
  models::LoadOptions lo;
  lo.architecture = head_architecture(base_architecture, task);
  lo.strict = false;
  lo.init_seed = opt.seed;
  lo.random_init = opt.init_from_config && load_dir == opt.model_dir;
  lo.device = opt.device;
  return lo;
}

std::vector<std::vector<std::size_t>> in_order_batches(std::size_t rows, std::size_t batch) {
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t s = 0; s < rows; s += batch) {
    out.emplace_back();
    for (std::size_t i = s; i < std::min(rows, s + batch); ++i) out.back().push_back(i);
  }
  return out;
}

PaddedBatch pad_sequences(const std::vector<const Sequence*>& seqs, int64_t pad_id, const torch::Device& device) {
  std::size_t t = 1;
  for (const auto* s : seqs) t = std::max(t, s->ids.size());
  const auto b = static_cast<int64_t>(seqs.size()), tt = static_cast<int64_t>(t);
  auto ids = torch::full({b, tt}, pad_id, torch::kLong);
  auto mask = torch::zeros({b, tt}, torch::kLong);
  auto types = torch::zeros({b, tt}, torch::kLong);
  PaddedBatch out;
  bool padded = false;
  for (int64_t r = 0; r < b; ++r) {
    const Sequence& s = *seqs[static_cast<std::size_t>(r)];
    const auto n = static_cast<int64_t>(s.ids.size());
    out.tokens += s.ids.size();
    padded = padded || n < tt;
    if (n == 0) continue;
    ids[r].narrow(0, 0, n).copy_(torch::tensor(s.ids, torch::kLong));
    if (!s.types.empty()) types[r].narrow(0, 0, n).copy_(torch::tensor(s.types, torch::kLong));
    mask[r].narrow(0, 0, n).fill_(1);
  }
  out.inputs = {{"input_ids", ids.to(device)}, {"attention_mask", mask.to(device)}, {"token_type_ids", types.to(device)}};
  return out;
}

}  // namespace detail
}  // namespace xling::train
