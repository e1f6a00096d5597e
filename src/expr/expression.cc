#include "expr/expression.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <vector>

#include "core/json_write.h"

namespace sluice::expr {

namespace json = boost::json;

// ---- values during evaluation ---------------------------------------------------------------

namespace {

// A value without copies: text and arrays/objects point into the event or the expression.
struct Val {
  enum class Type { kNull, kBool, kInt, kDouble, kString, kJson } type = Type::kNull;
  bool b = false;
  std::int64_t i = 0;
  double d = 0;
  std::string_view s;
  const json::value* j = nullptr;
  std::shared_ptr<const std::string> owned;  // text made during evaluation (lower, upper, ...)

  static Val null() { return {}; }
  static Val boolean(bool v) { return {.type = Type::kBool, .b = v}; }
  static Val integer(std::int64_t v) { return {.type = Type::kInt, .i = v}; }
  // Infinity and NaN (an overflowing product, number("inf")) are null: JSON cannot hold them,
  // and an event carrying one could not be written to a sink.
  static Val real(double v) {
    if (!std::isfinite(v)) return null();
    return {.type = Type::kDouble, .d = v};
  }
  static Val text(std::string_view v) { return {.type = Type::kString, .s = v}; }
  static Val made(std::string v) {
    Val out;
    out.type = Type::kString;
    out.owned = std::make_shared<const std::string>(std::move(v));
    out.s = *out.owned;
    return out;
  }
  bool numeric() const { return type == Type::kInt || type == Type::kDouble; }
  double as_double() const { return type == Type::kInt ? static_cast<double>(i) : d; }
  bool is_true() const { return type == Type::kBool && b; }
};

Val from_json(const json::value* v) {
  if (!v) return Val::null();
  switch (v->kind()) {
    case json::kind::null:
      return Val::null();
    case json::kind::bool_:
      return Val::boolean(v->get_bool());
    case json::kind::int64:
      return Val::integer(v->get_int64());
    case json::kind::uint64: {
      const auto u = v->get_uint64();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Val::integer(static_cast<std::int64_t>(u));
      }
      return Val::real(static_cast<double>(u));
    }
    case json::kind::double_:
      return Val::real(v->get_double());
    case json::kind::string:
      return Val::text(v->get_string());
    case json::kind::array:
    case json::kind::object:
      return {.type = Val::Type::kJson, .j = v};
  }
  return Val::null();
}

json::value to_json(const Val& v) {
  switch (v.type) {
    case Val::Type::kNull:
      return nullptr;
    case Val::Type::kBool:
      return v.b;
    case Val::Type::kInt:
      return v.i;
    case Val::Type::kDouble:
      return v.d;
    case Val::Type::kString:
      return json::string(v.s);
    case Val::Type::kJson:
      return *v.j;
  }
  return nullptr;
}

// Equality: numbers by value, otherwise same type and same content.
bool equal(const Val& a, const Val& b) {
  if (a.numeric() && b.numeric()) {
    if (a.type == Val::Type::kInt && b.type == Val::Type::kInt) return a.i == b.i;
    return a.as_double() == b.as_double();
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Val::Type::kNull:
      return true;
    case Val::Type::kBool:
      return a.b == b.b;
    case Val::Type::kString:
      return a.s == b.s;
    case Val::Type::kJson:
      return *a.j == *b.j;
    default:
      return false;
  }
}

// -1, 0, 1; nullopt when the two cannot be ordered.
std::optional<int> order(const Val& a, const Val& b) {
  if (a.numeric() && b.numeric()) {
    if (a.type == Val::Type::kInt && b.type == Val::Type::kInt) {
      return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (std::isnan(x) || std::isnan(y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.type == Val::Type::kString && b.type == Val::Type::kString) {
    const int c = a.s.compare(b.s);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

}  // namespace

// ---- the tree --------------------------------------------------------------------------------

enum class Op {
  kLiteral,
  kPath,
  kList,
  kAnd,
  kOr,
  kNot,
  kNeg,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kContains,
  kMatches,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kExists,
  kLower,
  kUpper,
  kLen,
  kNumber,
  kString,
};

struct PathStep {
  std::string key;  // field name, or empty for an index
  std::size_t index = 0;
};

struct Node {
  Op op = Op::kLiteral;
  json::value literal;         // kLiteral (and constant lists)
  std::vector<PathStep> path;  // kPath, kExists
  std::vector<std::unique_ptr<Node>> children;
  std::unique_ptr<RE2> regex;  // kMatches
};

namespace {

const json::value* lookup(const json::value& event, const std::vector<PathStep>& path) {
  const json::value* at = &event;
  for (const auto& step : path) {
    if (!step.key.empty()) {
      const auto* object = at->if_object();
      if (!object) return nullptr;
      at = object->if_contains(step.key);
    } else {
      const auto* array = at->if_array();
      if (!array || step.index >= array->size()) return nullptr;
      at = &(*array)[step.index];
    }
    if (!at) return nullptr;
  }
  return at;
}

std::string render(const Val& v) {
  switch (v.type) {
    case Val::Type::kString:
      return std::string(v.s);
    case Val::Type::kNull:
      return "null";
    default:
      return json_text(to_json(v));
  }
}

Val arithmetic(Op op, const Val& a, const Val& b) {
  if (!a.numeric() || !b.numeric()) return Val::null();
  const bool ints = a.type == Val::Type::kInt && b.type == Val::Type::kInt;
  switch (op) {
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul: {
      if (ints) {
        std::int64_t out = 0;
        const bool overflow = op == Op::kAdd   ? __builtin_add_overflow(a.i, b.i, &out)
                              : op == Op::kSub ? __builtin_sub_overflow(a.i, b.i, &out)
                                               : __builtin_mul_overflow(a.i, b.i, &out);
        if (!overflow) return Val::integer(out);
      }
      const double x = a.as_double();
      const double y = b.as_double();
      return Val::real(op == Op::kAdd ? x + y : op == Op::kSub ? x - y : x * y);
    }
    case Op::kDiv:
      if (b.as_double() == 0) return Val::null();
      return Val::real(a.as_double() / b.as_double());
    case Op::kMod:
      if (!ints || b.i == 0) return Val::null();
      if (a.i == std::numeric_limits<std::int64_t>::min() && b.i == -1) return Val::integer(0);
      return Val::integer(a.i % b.i);
    default:
      return Val::null();
  }
}

Val eval(const Node& n, const json::value& event);

Val eval_list(const Node& n, const json::value& event, json::value& holder) {
  json::array items;
  items.reserve(n.children.size());
  for (const auto& child : n.children)
    items.push_back(to_json(eval(*child, event)));
  holder = std::move(items);
  return {.type = Val::Type::kJson, .j = &holder};
}

Val eval(const Node& n, const json::value& event) {
  switch (n.op) {
    case Op::kLiteral:
      return from_json(&n.literal);
    case Op::kPath:
      return from_json(lookup(event, n.path));
    case Op::kList:
      return Val::null();  // evaluated where used (see kIn), never alone
    case Op::kExists: {
      const json::value* found = lookup(event, n.path);
      return Val::boolean(found != nullptr && !found->is_null());
    }
    case Op::kAnd:
      return Val::boolean(eval(*n.children[0], event).is_true() &&
                          eval(*n.children[1], event).is_true());
    case Op::kOr:
      return Val::boolean(eval(*n.children[0], event).is_true() ||
                          eval(*n.children[1], event).is_true());
    case Op::kNot:
      return Val::boolean(!eval(*n.children[0], event).is_true());
    case Op::kNeg: {
      const Val v = eval(*n.children[0], event);
      if (v.type == Val::Type::kInt && v.i != std::numeric_limits<std::int64_t>::min()) {
        return Val::integer(-v.i);
      }
      if (v.numeric()) return Val::real(-v.as_double());
      return Val::null();
    }
    case Op::kEq:
    case Op::kNe: {
      const bool same = equal(eval(*n.children[0], event), eval(*n.children[1], event));
      return Val::boolean(n.op == Op::kEq ? same : !same);
    }
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      const auto c = order(eval(*n.children[0], event), eval(*n.children[1], event));
      if (!c) return Val::null();
      switch (n.op) {
        case Op::kLt:
          return Val::boolean(*c < 0);
        case Op::kLe:
          return Val::boolean(*c <= 0);
        case Op::kGt:
          return Val::boolean(*c > 0);
        default:
          return Val::boolean(*c >= 0);
      }
    }
    case Op::kIn: {
      const Val needle = eval(*n.children[0], event);
      json::value holder;
      const Node& right = *n.children[1];
      const Val list = right.op == Op::kList ? eval_list(right, event, holder) : eval(right, event);
      if (list.type != Val::Type::kJson || !list.j->is_array()) return Val::null();
      for (const auto& item : list.j->get_array()) {
        if (equal(needle, from_json(&item))) return Val::boolean(true);
      }
      return Val::boolean(false);
    }
    case Op::kContains: {
      const Val hay = eval(*n.children[0], event);
      const Val needle = eval(*n.children[1], event);
      if (hay.type == Val::Type::kString && needle.type == Val::Type::kString) {
        return Val::boolean(hay.s.find(needle.s) != std::string_view::npos);
      }
      if (hay.type == Val::Type::kJson && hay.j->is_array()) {
        for (const auto& item : hay.j->get_array()) {
          if (equal(needle, from_json(&item))) return Val::boolean(true);
        }
        return Val::boolean(false);
      }
      return Val::null();
    }
    case Op::kMatches: {
      const Val v = eval(*n.children[0], event);
      if (v.type != Val::Type::kString) return Val::null();
      return Val::boolean(RE2::PartialMatch(re2::StringPiece(v.s.data(), v.s.size()), *n.regex));
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod:
      return arithmetic(n.op, eval(*n.children[0], event), eval(*n.children[1], event));
    case Op::kLower:
    case Op::kUpper: {
      const Val v = eval(*n.children[0], event);
      if (v.type != Val::Type::kString) return Val::null();
      std::string out(v.s);
      for (char& c : out) {
        if (n.op == Op::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (n.op == Op::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      return Val::made(std::move(out));
    }
    case Op::kLen: {
      const Val v = eval(*n.children[0], event);
      if (v.type == Val::Type::kString) {
        std::int64_t count = 0;
        for (char c : v.s) {
          if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++count;
        }
        return Val::integer(count);
      }
      if (v.type == Val::Type::kJson) {
        if (const auto* array = v.j->if_array())
          return Val::integer(static_cast<std::int64_t>(array->size()));
        return Val::integer(static_cast<std::int64_t>(v.j->get_object().size()));
      }
      return Val::null();
    }
    case Op::kNumber: {
      Val v = eval(*n.children[0], event);
      if (v.numeric()) return v;
      if (v.type != Val::Type::kString) return Val::null();
      std::int64_t i = 0;
      auto [iend, iec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), i);
      if (iec == std::errc() && iend == v.s.data() + v.s.size()) return Val::integer(i);
      double d = 0;
      auto [dend, dec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), d);
      if (dec == std::errc() && dend == v.s.data() + v.s.size()) return Val::real(d);
      return Val::null();
    }
    case Op::kString: {
      Val v = eval(*n.children[0], event);
      if (v.type == Val::Type::kString) return v;
      return Val::made(render(v));
    }
  }
  return Val::null();
}

// ---- lexer and parser ----------------------------------------------------------------------

enum class Tok { kEnd, kNumber, kString, kIdent, kSymbol };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier, symbol, or the string's decoded value
  json::value number;
  std::size_t column = 0;  // 1-based
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<Node>> parse() {
    if (auto e = advance()) return *e;
    auto root = parse_or();
    if (!root) return root.error();
    if (current_.kind != Tok::kEnd) return error("unexpected " + describe(current_));
    // Evaluation recurses once per level of the tree, and a chain of operators (a or b or
    // c ...) is a level each: bounded, so no expression can run the stack out.
    if (depth_of(*root.value()) > kMaxTreeDepth) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("the expression is over {} operators deep; write long lists "
                                    "of alternatives as `field in [a, b, ...]`",
                                    kMaxTreeDepth));
    }
    return root;
  }

 private:
  using NodeResult = Result<std::unique_ptr<Node>>;

  // Parentheses, lists, calls, `not` and unary minus nest: parsing recurses through each level.
  // Expressions come from URLs too (GET /v1/tail?filter=), so the nesting is bounded before it
  // can run the stack out.
  static constexpr int kMaxNesting = 64;
  static constexpr std::size_t kMaxTreeDepth = 256;

  // Counts one level of nesting for as long as it lives.
  class Level {
   public:
    explicit Level(int& nesting) : nesting_(nesting) { ++nesting_; }
    Level(const Level&) = delete;
    Level& operator=(const Level&) = delete;
    ~Level() { --nesting_; }
    bool too_deep() const { return nesting_ > kMaxNesting; }

   private:
    int& nesting_;
  };

  Error too_deep() const {
    return error(fmt::format("the expression nests deeper than {} levels", kMaxNesting));
  }

  static std::size_t depth_of(const Node& node) {
    std::size_t deepest = 0;
    for (const auto& child : node.children)
      deepest = std::max(deepest, depth_of(*child));
    return deepest + 1;
  }

  Error error(const std::string& what) const {
    return make_error(Errc::kInvalidInput, fmt::format("column {}: {}", current_.column, what));
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd:
        return "end of expression";
      case Tok::kString:
        return "text \"" + t.text + "\"";
      case Tok::kNumber:
        return "number " + json::serialize(t.number);
      default:
        return "'" + t.text + "'";
    }
  }
  bool is(std::string_view symbol) const {
    return (current_.kind == Tok::kSymbol || current_.kind == Tok::kIdent) &&
           current_.text == symbol;
  }

  static std::unique_ptr<Node> make(Op op, std::unique_ptr<Node> a, std::unique_ptr<Node> b = {}) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->children.push_back(std::move(a));
    if (b) n->children.push_back(std::move(b));
    return n;
  }

  NodeResult parse_or() {
    const Level level(nesting_);
    if (level.too_deep()) return too_deep();
    auto left = parse_and();
    if (!left) return left;
    while (is("||") || is("or")) {
      if (auto e = advance()) return *e;
      auto right = parse_and();
      if (!right) return right;
      left = make(Op::kOr, std::move(left.value()), std::move(right.value()));
    }
    return left;
  }

  NodeResult parse_and() {
    auto left = parse_not();
    if (!left) return left;
    while (is("&&") || is("and")) {
      if (auto e = advance()) return *e;
      auto right = parse_not();
      if (!right) return right;
      left = make(Op::kAnd, std::move(left.value()), std::move(right.value()));
    }
    return left;
  }

  NodeResult parse_not() {
    if (is("!") || is("not")) {
      const Level level(nesting_);
      if (level.too_deep()) return too_deep();
      if (auto e = advance()) return *e;
      auto operand = parse_not();
      if (!operand) return operand;
      return make(Op::kNot, std::move(operand.value()));
    }
    return parse_comparison();
  }

  NodeResult parse_comparison() {
    auto left = parse_sum();
    if (!left) return left;
    static const std::pair<std::string_view, Op> kOps[] = {
        {"==", Op::kEq},      {"!=", Op::kNe},
        {"<=", Op::kLe},      {">=", Op::kGe},
        {"<", Op::kLt},       {">", Op::kGt},
        {"in", Op::kIn},      {"contains", Op::kContains},
        {"=~", Op::kMatches}, {"matches", Op::kMatches}};
    for (const auto& [symbol, op] : kOps) {
      if (!is(symbol)) continue;
      if (auto e = advance()) return *e;
      if (op == Op::kMatches) return parse_regex(std::move(left.value()));
      auto right = parse_sum();
      if (!right) return right;
      return make(op, std::move(left.value()), std::move(right.value()));
    }
    return left;
  }

  NodeResult parse_regex(std::unique_ptr<Node> left) {
    if (current_.kind != Tok::kString) {
      return error("the pattern after matches must be quoted text, such as \"^/docs/\"");
    }
    RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_unique<RE2>(current_.text, options);
    if (!regex->ok()) return error("invalid regular expression: " + regex->error());
    if (auto e = advance()) return *e;
    auto n = make(Op::kMatches, std::move(left));
    n->regex = std::move(regex);
    return n;
  }

  NodeResult parse_sum() {
    auto left = parse_product();
    if (!left) return left;
    while (is("+") || is("-")) {
      const Op op = is("+") ? Op::kAdd : Op::kSub;
      if (auto e = advance()) return *e;
      auto right = parse_product();
      if (!right) return right;
      left = make(op, std::move(left.value()), std::move(right.value()));
    }
    return left;
  }

  NodeResult parse_product() {
    auto left = parse_unary();
    if (!left) return left;
    while (is("*") || is("/") || is("%")) {
      const Op op = is("*") ? Op::kMul : is("/") ? Op::kDiv : Op::kMod;
      if (auto e = advance()) return *e;
      auto right = parse_unary();
      if (!right) return right;
      left = make(op, std::move(left.value()), std::move(right.value()));
    }
    return left;
  }

  NodeResult parse_unary() {
    if (is("-")) {
      const Level level(nesting_);
      if (level.too_deep()) return too_deep();
      if (auto e = advance()) return *e;
      auto operand = parse_unary();
      if (!operand) return operand;
      return make(Op::kNeg, std::move(operand.value()));
    }
    return parse_primary();
  }

  NodeResult literal(json::value v) {
    auto n = std::make_unique<Node>();
    n->op = Op::kLiteral;
    n->literal = std::move(v);
    if (auto e = advance()) return *e;
    return n;
  }

  NodeResult parse_primary() {
    if (current_.kind == Tok::kNumber) return literal(current_.number);
    if (current_.kind == Tok::kString) return literal(json::string(current_.text));
    if (is("(")) {
      if (auto e = advance()) return *e;
      auto inner = parse_or();
      if (!inner) return inner;
      if (!is(")")) return error("expected ')' but found " + describe(current_));
      if (auto e = advance()) return *e;
      return inner;
    }
    if (is("[")) return parse_list();
    if (current_.kind == Tok::kIdent || is("$")) {
      const std::string name = current_.text;
      if (name == "true") return literal(true);
      if (name == "false") return literal(false);
      if (name == "null") return literal(nullptr);
      static const std::pair<std::string_view, Op> kFunctions[] = {
          {"exists", Op::kExists}, {"lower", Op::kLower},   {"upper", Op::kUpper},
          {"len", Op::kLen},       {"number", Op::kNumber}, {"string", Op::kString}};
      for (const auto& [function, op] : kFunctions) {
        if (name == function && peek_is('(')) return parse_call(op);
      }
      if (is_keyword(name)) return error("unexpected " + describe(current_));
      auto path = parse_path();
      if (!path) return path.error();
      auto n = std::make_unique<Node>();
      n->op = Op::kPath;
      n->path = std::move(path.value());
      return n;
    }
    return error("expected a value, a field or '(' but found " + describe(current_));
  }

  static bool is_keyword(const std::string& word) {
    return word == "and" || word == "or" || word == "not" || word == "in" || word == "contains" ||
           word == "matches";
  }

  NodeResult parse_call(Op op) {
    const std::string name = current_.text;
    if (auto e = advance()) return *e;  // the name
    if (auto e = advance()) return *e;  // '('
    std::unique_ptr<Node> n;
    if (op == Op::kExists) {
      auto path = parse_path();
      if (!path) return path.error();
      n = std::make_unique<Node>();
      n->op = Op::kExists;
      n->path = std::move(path.value());
    } else {
      auto argument = parse_or();
      if (!argument) return argument;
      n = make(op, std::move(argument.value()));
    }
    if (!is(")"))
      return error(fmt::format("expected ')' to close {}( but found {}", name, describe(current_)));
    if (auto e = advance()) return *e;
    return n;
  }

  // field, field.sub, field[0], field["odd name"], $["odd name"]
  Result<std::vector<PathStep>> parse_path() {
    std::vector<PathStep> steps;
    if (current_.kind == Tok::kIdent) {
      steps.push_back({current_.text});
      if (auto e = advance()) return *e;
    } else if (is("$")) {
      if (auto e = advance()) return *e;
      if (!is("[") && !is(".")) return error("expected '[' or '.' after '$'");
    } else {
      return error("expected a field name but found " + describe(current_));
    }
    for (;;) {
      if (is(".")) {
        if (auto e = advance()) return *e;
        if (current_.kind != Tok::kIdent) {
          return error("expected a field name after '.' but found " + describe(current_));
        }
        steps.push_back({current_.text});
        if (auto e = advance()) return *e;
      } else if (is("[")) {
        if (auto e = advance()) return *e;
        if (current_.kind == Tok::kString) {
          steps.push_back({current_.text});
        } else if (current_.kind == Tok::kNumber && current_.number.is_int64() &&
                   current_.number.get_int64() >= 0) {
          steps.push_back({"", static_cast<std::size_t>(current_.number.get_int64())});
        } else {
          return error("expected a quoted field name or an index in [] but found " +
                       describe(current_));
        }
        if (auto e = advance()) return *e;
        if (!is("]")) return error("expected ']' but found " + describe(current_));
        if (auto e = advance()) return *e;
      } else {
        break;
      }
    }
    if (steps.empty()) return error("expected a field after '$'");
    return steps;
  }

  NodeResult parse_list() {
    if (auto e = advance()) return *e;  // '['
    auto n = std::make_unique<Node>();
    n->op = Op::kList;
    bool constant = true;
    while (!is("]")) {
      if (!n->children.empty()) {
        if (!is(","))
          return error("expected ',' or ']' in the list but found " + describe(current_));
        if (auto e = advance()) return *e;
      }
      auto item = parse_or();
      if (!item) return item;
      constant = constant && item.value()->op == Op::kLiteral;
      n->children.push_back(std::move(item.value()));
    }
    if (auto e = advance()) return *e;  // ']'
    if (constant) {                     // folded once here instead of built for every event
      json::array items;
      for (const auto& child : n->children)
        items.push_back(child->literal);
      auto folded = std::make_unique<Node>();
      folded->op = Op::kLiteral;
      folded->literal = std::move(items);
      return folded;
    }
    return n;
  }

  bool peek_is(char c) const {
    std::size_t at = pos_;
    while (at < text_.size() && (text_[at] == ' ' || text_[at] == '\t' || text_[at] == '\n'))
      ++at;
    return at < text_.size() && text_[at] == c;
  }

  // Reads the next token into current_.
  std::optional<Error> advance() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    current_ = Token{.column = pos_ + 1};
    if (pos_ >= text_.size()) return std::nullopt;
    const char c = text_[pos_];
    if ((c >= '0' && c <= '9') ||
        (c == '.' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9')) {
      return lex_number();
    }
    if (c == '"' || c == '\'') return lex_string(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      const std::size_t start = pos_;
      while (pos_ < text_.size() &&
             ((text_[pos_] >= 'a' && text_[pos_] <= 'z') ||
              (text_[pos_] >= 'A' && text_[pos_] <= 'Z') ||
              (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
        ++pos_;
      }
      current_.kind = Tok::kIdent;
      current_.text = std::string(text_.substr(start, pos_ - start));
      return std::nullopt;
    }
    static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "&&", "||", "=~"};
    for (auto symbol : kTwo) {
      if (text_.substr(pos_, 2) == symbol) {
        current_.kind = Tok::kSymbol;
        current_.text = std::string(symbol);
        pos_ += 2;
        return std::nullopt;
      }
    }
    if (std::string_view("<>!+-*/%()[],.$").find(c) != std::string_view::npos) {
      current_.kind = Tok::kSymbol;
      current_.text = std::string(1, c);
      ++pos_;
      return std::nullopt;
    }
    if (c == '=') {
      // `=>` and `=<` are `>=` and `<=` written the other way round.
      const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
      if (next == '>' || next == '<') {
        return make_error(
            Errc::kInvalidInput,
            fmt::format("column {}: '={}' is not an operator; write '{}='", pos_ + 1, next, next));
      }
      return make_error(
          Errc::kInvalidInput,
          fmt::format("column {}: '=' is not an operator; compare with '=='", pos_ + 1));
    }
    return make_error(Errc::kInvalidInput,
                      fmt::format("column {}: unexpected character '{}'", pos_ + 1, c));
  }

  std::optional<Error> lex_number() {
    const std::size_t start = pos_;
    bool real = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E') {
        real = true;
        ++pos_;
        if ((c == 'e' || c == 'E') && pos_ < text_.size() &&
            (text_[pos_] == '+' || text_[pos_] == '-'))
          ++pos_;
      } else {
        break;
      }
    }
    const std::string_view digits = text_.substr(start, pos_ - start);
    current_.kind = Tok::kNumber;
    current_.text = std::string(digits);
    if (!real) {
      std::int64_t i = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
      if (ec == std::errc() && end == digits.data() + digits.size()) {
        current_.number = i;
        return std::nullopt;
      }
    }
    double d = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("column {}: \"{}\" is not a number", start + 1, digits));
    }
    current_.number = d;
    return std::nullopt;
  }

  std::optional<Error> lex_string(char quote) {
    const std::size_t start = pos_++;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c == '\\' && pos_ < text_.size()) {
        const char e = text_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          default:
            // \" \' \\ and, for regular expressions, any other escape is kept as written.
            if (e != '"' && e != '\'' && e != '\\') out.push_back('\\');
            c = e;
        }
      }
      out.push_back(c);
    }
    if (pos_ >= text_.size()) {
      return make_error(
          Errc::kInvalidInput,
          fmt::format("column {}: text that starts here has no closing {}", start + 1, quote));
    }
    ++pos_;
    current_.kind = Tok::kString;
    current_.text = std::move(out);
    return std::nullopt;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  Token current_;
  int nesting_ = 0;
};

}  // namespace

Expression::Expression(std::string text, std::unique_ptr<Node> root)
    : text_(std::move(text)), root_(std::move(root)) {}
Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;
Expression::~Expression() = default;

Result<Expression> Expression::parse(std::string_view text) {
  Parser parser(text);
  auto root = parser.parse();
  if (!root) return root.error();
  return Expression(std::string(text), std::move(root.value()));
}

json::value Expression::evaluate(const json::value& event) const {
  return to_json(eval(*root_, event));
}

bool Expression::matches(const json::value& event) const {
  return eval(*root_, event).is_true();
}

namespace {

void collect_fields(const Node& node, std::set<std::string>& out) {
  if ((node.op == Op::kPath || node.op == Op::kExists) && !node.path.empty() &&
      !node.path.front().key.empty()) {
    out.insert(node.path.front().key);
  }
  for (const auto& child : node.children)
    collect_fields(*child, out);
}

}  // namespace

std::set<std::string> Expression::fields() const {
  std::set<std::string> out;
  collect_fields(*root_, out);
  return out;
}

}  // namespace sluice::expr
