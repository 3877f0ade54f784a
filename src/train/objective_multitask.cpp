// --multitask FILE.json: several tasks training one shared encoder, each with its own rows,
// head and eval files (FonMTL-style multitask fine-tuning). The file:
//   {"sampling": "round-robin" | "proportional",          (default round-robin)
//    "loss_weighting": "equal" | "proportional" | "fixed", (default equal)
//    "tasks": [{"name": "ner", "task": "token-cls", "train": "ner.jsonl", "eval": ["dev.jsonl"],
//               "weight": 1.0}, ...]}                      (paths relative to the file)
// Every batch comes from one task. round-robin: one batch of each task in turn while a task has
// batches left; proportional: the interleaving that keeps each task's share of the batches
// equal to its share of the rows. Loss weights: equal 1; proportional K * n_k / sum(n);
// fixed: the task's "weight". The result is one HF directory per task (OUTPUT/<name>/), each
// the shared encoder plus that task's head, which transformers loads on its own.
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "models/bert.hpp"
#include "train/hf_output.hpp"
#include "train/objective_impl.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

struct SubTask {
  std::string name;
  std::unique_ptr<Objective> obj;
  double weight = 1.0;
  std::size_t offset = 0;  // first global row index
};

class MultitaskObjective final : public Objective {
 public:
  MultitaskObjective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
    const std::string& path = opt.multitask_path;
    const auto spec = core::read_json_file(path);
    const fs::path base = fs::path(path).parent_path();
    sampling_ = spec.value("sampling", "round-robin");
    weighting_ = spec.value("loss_weighting", "equal");
    if (sampling_ != "round-robin" && sampling_ != "proportional") {
      throw InvalidArgument(fmt::format("{}: sampling '{}' is not round-robin or proportional", path, sampling_));
    }
    if (weighting_ != "equal" && weighting_ != "proportional" && weighting_ != "fixed") {
      throw InvalidArgument(fmt::format("{}: loss_weighting '{}' is not equal, proportional or fixed", path, weighting_));
    }
    if (!spec.contains("tasks") || !spec["tasks"].is_array() || spec["tasks"].size() < 2) {
      throw InvalidArgument(fmt::format("{}: 'tasks' must list at least two tasks", path));
    }
    const bool resuming = load_dir != opt.model_dir;
    const std::regex name_re("[A-Za-z0-9_.-]+");
    std::size_t rows = 0;
    for (const auto& t : spec["tasks"]) {
      SubTask sub;
      sub.name = t.value("name", "");
      const std::string where = fmt::format("{}: task '{}'", path, sub.name);
      if (!std::regex_match(sub.name, name_re)) {
        throw InvalidArgument(fmt::format("{}: every task needs a 'name' of letters, digits, '_', '-' or '.'", path));
      }
      for (const auto& s : tasks_) {
        if (s.name == sub.name) throw InvalidArgument(fmt::format("{}: two tasks are named '{}'", path, sub.name));
      }
      TrainOptions o = opt;
      o.multitask_path.clear();
      o.task = parse_task(t.value("task", ""));
      if (!t.contains("train") || !t["train"].is_string()) throw InvalidArgument(fmt::format("{}: no 'train' file", where));
      o.train_path = (base / t["train"].get<std::string>()).string();
      o.eval_paths.clear();
      if (t.contains("eval")) {
        const auto& e = t["eval"];
        if (e.is_string()) o.eval_paths.push_back((base / e.get<std::string>()).string());
        else if (e.is_array()) for (const auto& x : e) o.eval_paths.push_back((base / x.get<std::string>()).string());
        else throw InvalidArgument(fmt::format("{}: 'eval' must be a file or a list of files", where));
      }
      if (t.contains("loss")) o.loss = t["loss"].get<std::string>();
      if (weighting_ == "fixed") {
        if (!t.contains("weight") || !t["weight"].is_number() || !(t["weight"].get<double>() > 0)) {
          throw InvalidArgument(fmt::format("{}: loss_weighting fixed needs a positive 'weight'", where));
        }
        sub.weight = t["weight"].get<double>();
      }
      sub.obj = make_objective(o, resuming ? (fs::path(load_dir) / sub.name).string() : load_dir,
                               [&](const std::string& line) { report(sub.name + ": " + line); });
      sub.offset = rows;
      rows += sub.obj->train_size();
      for (std::size_t f = 0; f < sub.obj->eval_files(); ++f) {
        eval_paths_.push_back(sub.obj->eval_path(f));
        eval_map_.emplace_back(tasks_.size(), f);
      }
      tasks_.push_back(std::move(sub));
    }
    if (weighting_ == "proportional") {
      for (auto& s : tasks_) {
        s.weight = static_cast<double>(tasks_.size() * s.obj->train_size()) / static_cast<double>(rows);
      }
    }
    share_encoder(path);
  }

  models::LoadedModel& model() override { return tasks_[0].obj->model(); }

  std::vector<std::pair<std::string, torch::Tensor>> parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out = tasks_[0].obj->parameters();
    std::set<const void*> shared;
    for (auto& [n, p] : out) {
      shared.insert(p.unsafeGetTensorImpl());
      if (!is_encoder(n)) n = tasks_[0].name + "/" + n;  // the first task's head, under its task name
    }
    for (std::size_t k = 1; k < tasks_.size(); ++k) {
      for (const auto& [n, p] : tasks_[k].obj->parameters()) {
        if (!shared.count(p.unsafeGetTensorImpl())) out.emplace_back(tasks_[k].name + "/" + n, p);
      }
    }
    return out;
  }

  void set_training(bool on) override {
    for (auto& s : tasks_) s.obj->set_training(on);
  }

  std::vector<std::vector<std::size_t>> epoch_batches(std::size_t batch, bool shuffle, uint64_t seed, int epoch) const override {
    std::vector<std::vector<std::vector<std::size_t>>> per_task;
    for (std::size_t k = 0; k < tasks_.size(); ++k) {
      auto b = tasks_[k].obj->epoch_batches(batch, shuffle, seed + k, epoch);
      for (auto& rows : b) {
        for (auto& r : rows) r += tasks_[k].offset;
      }
      per_task.push_back(std::move(b));
    }
    std::vector<std::vector<std::size_t>> out;
    std::vector<std::size_t> next(per_task.size(), 0);
    std::size_t total = 0;
    for (const auto& b : per_task) total += b.size();
    while (out.size() < total) {
      if (sampling_ == "round-robin") {
        for (std::size_t k = 0; k < per_task.size(); ++k) {
          if (next[k] < per_task[k].size()) out.push_back(per_task[k][next[k]++]);
        }
      } else {  // the task furthest behind its share goes next
        std::size_t pick = per_task.size();
        double lowest = 2.0;
        for (std::size_t k = 0; k < per_task.size(); ++k) {
          if (next[k] >= per_task[k].size()) continue;
          const double done = static_cast<double>(next[k]) / static_cast<double>(per_task[k].size());
          if (done < lowest) {
            lowest = done;
            pick = k;
          }
        }
        out.push_back(per_task[pick][next[pick]++]);
      }
    }
    return out;
  }

  std::size_t train_size() const override { return tasks_.back().offset + tasks_.back().obj->train_size(); }
  std::size_t row_tokens(std::size_t i) const override {
    const auto& s = task_of(i);
    return s.obj->row_tokens(i - s.offset);
  }

  BatchLoss loss(const std::vector<std::size_t>& rows) override {
    const auto& s = task_of(rows.front());
    std::vector<std::size_t> local;
    for (auto r : rows) local.push_back(r - s.offset);
    auto out = s.obj->loss(local);
    if (s.weight != 1.0) out.loss = out.loss * s.weight;
    return out;
  }

  EvalResult evaluate(std::size_t f, std::size_t batch_size) override {
    const auto [k, local] = eval_map_[f];
    return tasks_[k].obj->evaluate(local, batch_size);
  }

  std::string describe() const override {
    std::vector<std::string> parts;
    for (const auto& s : tasks_) {
      parts.push_back(fmt::format("{} ({} rows, {}, weight {:.3g})", s.name, s.obj->train_size(), s.obj->describe(), s.weight));
    }
    return fmt::format("{} tasks sharing the encoder, {} sampling: {}", tasks_.size(), sampling_, fmt::join(parts, "; "));
  }
  std::vector<std::string> head_modules() const override { return {}; }
  std::string peft_task_type() const override { return ""; }

  void save(const std::string& dir) const override {
    for (const auto& s : tasks_) s.obj->save((fs::path(dir) / s.name).string());
    write_record(dir);
  }
  void save_config(const std::string& dir) const override {
    for (const auto& s : tasks_) s.obj->save_config((fs::path(dir) / s.name).string());
    write_record(dir);
  }

 private:
  static bool is_encoder(const std::string& name) {
    return name.rfind("roberta.", 0) == 0 || name.rfind("bert.", 0) == 0;
  }

  const SubTask& task_of(std::size_t i) const {
    for (std::size_t k = tasks_.size(); k-- > 0;) {
      if (i >= tasks_[k].offset) return tasks_[k];
    }
    return tasks_[0];
  }

  // Every task's model uses the first task's encoder module (embeddings + layers + pooler).
  void share_encoder(const std::string& path) {
    auto* first = dynamic_cast<models::BertTaskModelImpl*>(tasks_[0].obj->model().module.get());
    if (!first) throw UnsupportedModel(fmt::format("{}: multitask training supports the BERT family of encoders", path));
    for (std::size_t k = 1; k < tasks_.size(); ++k) {
      auto* m = dynamic_cast<models::BertTaskModelImpl*>(tasks_[k].obj->model().module.get());
      if (!m || m->prefix != first->prefix) {
        throw UnsupportedModel(fmt::format("{}: task '{}' does not have the first task's encoder", path, tasks_[k].name));
      }
      m->backbone = first->backbone;
      m->replace_module(m->prefix, first->backbone.ptr());
    }
  }

  void write_record(const std::string& dir) const {
    nlohmann::json j = {{"sampling", sampling_}, {"loss_weighting", weighting_}, {"tasks", nlohmann::json::array()}};
    for (const auto& s : tasks_) j["tasks"].push_back({{"name", s.name}, {"weight", s.weight}, {"directory", s.name}});
    write_json(fs::path(dir) / "multitask.json", j);
  }

  std::vector<SubTask> tasks_;
  std::vector<std::pair<std::size_t, std::size_t>> eval_map_;  // eval file -> (task, its file)
  std::string sampling_, weighting_;
};

}  // namespace

std::unique_ptr<Objective> make_multitask_objective(const TrainOptions& opt, const std::string& load_dir, const Reporter& report) {
  return std::make_unique<MultitaskObjective>(opt, load_dir, report);
}

}  // namespace xling::train
