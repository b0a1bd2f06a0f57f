#include "regmap/register_map.hpp"
#include "records/record.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/suggest.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <toml++/toml.h>

namespace m2m {

namespace {

/// "line N: " for a node that came from the file.
std::string at_line(const toml::node& n) {
    auto line = n.source().begin.line;
    return line ? fmt::format("line {}: ", line) : std::string();
}

/// Unknown keys are refused, with the closest known one.
Status known_keys(const toml::table& t, const std::vector<std::string>& keys,
                  const std::function<std::string(const std::string&)>& where) {
    for (auto& [k, v] : t) {
        std::string key(k.str());
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
            return fail(Exit::usage,
                        where(fmt::format("{}unknown key '{}'{}", at_line(v), key, did_you_mean(key, keys))));
    }
    return {};
}

/// An integer key within [lo, hi], or `dflt` when absent; a string or float is refused.
Expected<int64_t> integer(const toml::table& t, const char* key, int64_t lo, int64_t hi, int64_t dflt,
                          const std::function<std::string(const std::string&)>& where,
                          bool required = false) {
    const toml::node* n = t.get(key);
    if (!n) {
        if (required) return fail(Exit::usage, where(fmt::format("{} is missing ({} to {})", key, lo, hi)));
        return dflt;
    }
    auto v = n->value_exact<int64_t>();
    if (!v || *v < lo || *v > hi)
        return fail(Exit::usage, where(fmt::format("{}{} must be an integer from {} to {}{}", at_line(*n),
                                                   key, lo, hi, n->is_string() ? " (without quotes)" : "")));
    return *v;
}

Expected<double> number(const toml::table& t, const char* key, double dflt,
                        const std::function<std::string(const std::string&)>& where) {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (auto i = n->value_exact<int64_t>()) return static_cast<double>(*i);
    if (auto d = n->value_exact<double>(); d && std::isfinite(*d)) return *d;
    return fail(Exit::usage, where(fmt::format("{}{} must be a number{}", at_line(*n), key,
                                               n->is_string() ? " (without quotes)" : "")));
}

Expected<std::string> text(const toml::table& t, const char* key, const std::string& dflt,
                           const std::function<std::string(const std::string&)>& where) {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (auto s = n->value_exact<std::string>()) return *s;
    return fail(Exit::usage, where(fmt::format("{}{} must be a string", at_line(*n), key)));
}

/// A device or value name: it goes into topics, so no wildcard, no level separator, not empty.
Status name_ok(const std::string& name, const std::string& what,
               const std::function<std::string(const std::string&)>& where) {
    if (name.empty()) return fail(Exit::usage, where(fmt::format("a {} has no name", what)));
    if (name.find_first_of("+#/") != std::string::npos || name.find('\0') != std::string::npos)
        return fail(Exit::usage,
                    where(fmt::format("{} name '{}' has '+', '#' or '/', which cannot go into a topic "
                                      "level",
                                      what, name)));
    return {};
}

} // namespace

Expected<std::vector<MapDevice>> load_map(const std::string& file, int64_t default_us) {
    toml::table t;
    try {
        t = toml::parse_file(file);
    } catch (const toml::parse_error& e) {
        return fail(Exit::usage,
                    fmt::format("--map {}: line {}: {}", file, e.source().begin.line, e.description()));
    }
    auto top = [&](const std::string& what) { return fmt::format("--map {}: {}", file, what); };
    if (auto st = known_keys(t, {"device"}, top); !st) return std::unexpected(st.error());
    std::vector<MapDevice> out;
    auto* devs = t["device"].as_array();
    if (!devs || devs->empty()) return fail(Exit::usage, top("no [[device]] tables"));
    for (auto& d : *devs) {
        auto* dt = d.as_table();
        if (!dt) return fail(Exit::usage, top("[[device]] must be a table"));
        MapDevice dev;
        auto name = text(*dt, "name", "", top);
        if (!name) return std::unexpected(name.error());
        dev.name = *name;
        if (auto st = name_ok(dev.name, "device", top); !st) return std::unexpected(st.error());
        auto where = [&](const std::string& what) {
            return fmt::format("--map {}: device '{}': {}", file, dev.name, what);
        };
        if (auto st = known_keys(*dt, {"name", "unit", "poll", "max_gap", "value"}, where); !st)
            return std::unexpected(st.error());
        auto unit = integer(*dt, "unit", 0, 247, 1, where);
        if (!unit) return std::unexpected(unit.error());
        dev.unit = static_cast<int>(*unit);
        auto gap = integer(*dt, "max_gap", -1, 125, 10, where); // -1: one read per value
        if (!gap) return std::unexpected(gap.error());
        dev.max_gap = static_cast<int>(*gap);
        for (auto& other : out)
            if (other.name == dev.name)
                return fail(Exit::usage, where("two devices have this name (their topics would mix)"));
        dev.interval_us = default_us;
        auto poll = text(*dt, "poll", "", where);
        if (!poll) return std::unexpected(poll.error());
        if (!poll->empty()) {
            auto dur = parse_duration(*poll);
            if (!dur || dur->count() <= 0)
                return fail(Exit::usage, where(fmt::format("bad poll interval '{}'", *poll)));
            dev.interval_us = dur->count();
        }
        auto* vals = (*dt)["value"].as_array();
        if (!vals || vals->empty()) return fail(Exit::usage, where("no [[device.value]] tables"));
        for (auto& v : *vals) {
            auto* vt = v.as_table();
            if (!vt) return fail(Exit::usage, where("[[device.value]] must be a table"));
            MapValue mv;
            auto vname = text(*vt, "name", "", where);
            if (!vname) return std::unexpected(vname.error());
            mv.name = *vname;
            if (auto st = name_ok(mv.name, "value", where); !st) return std::unexpected(st.error());
            for (auto& other : dev.values)
                if (other.name == mv.name)
                    return fail(Exit::usage,
                                where(fmt::format("{}two values are named '{}' (their topics would mix)",
                                                  at_line(v), mv.name)));
            auto vwhere = [&](const std::string& what) {
                return where(fmt::format("value '{}': {}", mv.name, what));
            };
            if (auto st = known_keys(*vt,
                                     {"name", "table", "addr", "type", "order", "word_order", "byte_order",
                                      "scale", "offset", "decimals", "topic", "value"},
                                     vwhere);
                !st)
                return std::unexpected(st.error());
            auto table = text(*vt, "table", "holding", vwhere);
            if (!table) return std::unexpected(table.error());
            mv.fc = *table == "coil"       ? 1
                    : *table == "discrete" ? 2
                    : *table == "holding"  ? 3
                    : *table == "input"    ? 4
                                           : 0;
            if (!mv.fc)
                return fail(Exit::usage, vwhere(fmt::format(
                                             "table '{}' is not holding, input, coil or discrete", *table)));
            auto addr = integer(*vt, "addr", 0, 65535, 0, vwhere, true);
            if (!addr) return std::unexpected(addr.error());
            mv.addr = static_cast<int>(*addr);
            auto type = text(*vt, "type", mv.fc <= 2 ? "bits" : "uint16", vwhere);
            if (!type) return std::unexpected(type.error());
            auto spec = modbus::parse_type(*type);
            if (!spec) return fail(Exit::usage, vwhere(at_line(*vt->get("type")) + spec.error().message));
            mv.spec = *spec;
            if ((mv.fc <= 2) != (mv.spec.type == modbus::Type::bits))
                return fail(Exit::usage, vwhere("coils and discrete inputs are bits; registers are numbers"));
            auto order = text(*vt, "order", "", vwhere);
            if (!order) return std::unexpected(order.error());
            if (!order->empty()) {
                auto o = modbus::parse_order(*order);
                if (!o)
                    return fail(Exit::usage,
                                vwhere(fmt::format("{}order '{}' is not ABCD, CDAB, BADC or DCBA",
                                                   at_line(*vt->get("order")), *order)));
                if (vt->contains("word_order") || vt->contains("byte_order"))
                    return fail(Exit::usage, vwhere("give order, or word_order and byte_order, not both"));
                mv.spec.order = *o;
            } else { // the older pair: word_order and byte_order = big | little
                auto wo = text(*vt, "word_order", "big", vwhere), bo = text(*vt, "byte_order", "big", vwhere);
                if (!wo) return std::unexpected(wo.error());
                if (!bo) return std::unexpected(bo.error());
                if ((*wo != "big" && *wo != "little") || (*bo != "big" && *bo != "little"))
                    return fail(Exit::usage, vwhere("word_order and byte_order are big or little"));
                mv.spec.order = {*wo == "big", *bo == "big"};
            }
            auto scale = number(*vt, "scale", 1.0, vwhere), offset = number(*vt, "offset", 0.0, vwhere);
            if (!scale) return std::unexpected(scale.error());
            if (!offset) return std::unexpected(offset.error());
            if (*scale == 0) return fail(Exit::usage, vwhere("scale 0 would make every value 0"));
            mv.spec.scale = *scale;
            mv.spec.offset = *offset;
            auto decimals = integer(*vt, "decimals", 0, 15, -1, vwhere);
            if (!decimals) return std::unexpected(decimals.error());
            mv.spec.decimals = static_cast<int>(*decimals);
            if (const toml::node* iv = vt->get("value")) { // what a simulated device holds at start
                if (auto i = iv->value_exact<int64_t>())
                    mv.initial = std::to_string(*i);
                else if (auto d = iv->value_exact<double>())
                    mv.initial = fmt::format("{}", *d);
                else if (auto b = iv->value_exact<bool>())
                    mv.initial = *b ? "true" : "false";
                else if (auto str = iv->value_exact<std::string>())
                    mv.initial.clear(), append_json_string(mv.initial, *str);
                else
                    return fail(Exit::usage,
                                vwhere(at_line(*iv) + "value must be a number, true/false or a string"));
                if (auto regs = modbus::registers_of(mv.initial, mv.spec); !regs)
                    return fail(Exit::usage, vwhere(at_line(*iv) + regs.error().message));
            }
            auto tp = text(*vt, "topic", "", vwhere);
            if (!tp) return std::unexpected(tp.error());
            if (!tp->empty()) {
                auto tt = TopicTemplate::parse(*tp);
                if (!tt) return std::unexpected(tt.error());
                mv.topic = std::move(*tt);
            }
            for (auto& other : dev.values) { // the same register read twice may be meant (bits of a word)
                int a0 = mv.addr, a1 = mv.addr + modbus::registers_for(mv.spec);
                int b0 = other.addr, b1 = other.addr + modbus::registers_for(other.spec);
                if (other.fc == mv.fc && a0 < b1 && b0 < a1)
                    log::warn(
                        "--map {}: device '{}': values '{}' and '{}' overlap (registers {}-{} and {}-{})",
                        file, dev.name, other.name, mv.name, b0, b1 - 1, a0, a1 - 1);
            }
            dev.values.push_back(std::move(mv));
        }
        out.push_back(std::move(dev));
    }
    return out;
}

} // namespace m2m
