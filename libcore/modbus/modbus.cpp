#include "modbus/modbus.hpp"
#include "util/bytes.hpp"
#include <bit>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <simdjson.h>

namespace m2m::modbus {

uint16_t crc16(std::string_view bytes) {
    uint16_t crc = 0xFFFF;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int i = 0; i < 8; ++i)
            crc = (crc & 1) ? static_cast<uint16_t>((crc >> 1) ^ 0xA001) : static_cast<uint16_t>(crc >> 1);
    }
    return crc;
}

namespace {

int u8(std::string_view s, size_t i) {
    return static_cast<unsigned char>(s[i]);
}
int u16(std::string_view s, size_t i) {
    return (u8(s, i) << 8) | u8(s, i + 1);
}
/// 3+N when byte i holds N, or -1 while it has not arrived.
int counted(std::string_view s, size_t i, int fixed) {
    return s.size() > i ? fixed + u8(s, i) : -1;
}

void put16(std::string& out, int v) {
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
    out.push_back(static_cast<char>(v & 0xFF));
}

std::string regs_json(std::string_view data) {
    std::string s = "[";
    for (size_t i = 0; i + 1 < data.size(); i += 2)
        fmt::format_to(std::back_inserter(s), "{}{}", i ? "," : "", u16(data, i));
    return s + "]";
}

std::string bits_json(std::string_view data, size_t count) {
    std::string s = "[";
    for (size_t i = 0; i < count && i / 8 < data.size(); ++i)
        fmt::format_to(std::back_inserter(s), "{}{}", i ? "," : "", (u8(data, i / 8) >> (i % 8)) & 1);
    return s + "]";
}

} // namespace

Mbap read_mbap(std::string_view b) {
    auto u16 = [&](size_t i) {
        return static_cast<uint16_t>(static_cast<unsigned char>(b[i]) << 8 |
                                     static_cast<unsigned char>(b[i + 1]));
    };
    return {u16(0), u16(2), u16(4)};
}

void append_mbap(std::string& out, uint16_t tid, std::string_view adu) {
    const char h[mbap_size] = {static_cast<char>(tid >> 8),        static_cast<char>(tid & 0xFF),       0, 0,
                               static_cast<char>(adu.size() >> 8), static_cast<char>(adu.size() & 0xFF)};
    out.append(h, mbap_size);
    out.append(adu);
}

const char* exception_name(int code) {
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "server device failure";
    case 5:
        return "acknowledge";
    case 6:
        return "server device busy";
    case 8:
        return "memory parity error";
    case 10:
        return "gateway path unavailable";
    case 11:
        return "gateway target device failed to respond";
    default:
        return "unknown exception";
    }
}

Lengths adu_lengths(std::string_view a) {
    if (a.size() < 2) return {-1, -1};
    int fc = u8(a, 1);
    if (fc & 0x80) return {0, 3};
    switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4:
        return {6, counted(a, 2, 3)};
    case 5:
    case 6:
    case 8:
        return {6, 6};
    case 15:
    case 16:
        return {counted(a, 6, 7), 6};
    case 23:
        return {counted(a, 10, 11), counted(a, 2, 3)};
    case 7:
        return {2, 3};
    case 11:
        return {2, 6};
    case 17:
        return {2, counted(a, 2, 3)};
    default:
        return {0, 0};
    }
}

bool is_request(std::string_view a, Role role, const Context& ctx) {
    auto l = adu_lengths(a);
    int n = static_cast<int>(a.size());
    bool req = l.request == n, rsp = l.response == n;
    if (req != rsp) return req;
    if (role != Role::any) return role == Role::request;
    // both fit (or neither): a frame answering the request just seen is its response
    bool answers = a.size() >= 2 && ctx.unit == u8(a, 0) && ctx.fc == (u8(a, 1) & 0x7F);
    return !answers;
}

std::string describe(std::string_view a, bool request, Context& ctx) {
    if (a.size() < 2) return R"({"error":"shorter than a unit id and a function code"})";
    int unit = u8(a, 0), fc = u8(a, 1);
    std::string_view d = a.substr(2);
    std::string s = fmt::format(R"({{"unit":{},"fc":{},)", unit, fc & 0x7F);
    auto bad = [&](std::string_view why) {
        return s + fmt::format(R"("kind":"{}","data":"{}","error":"{}"}})", request ? "request" : "response",
                               to_hex(d), why);
    };
    auto l = adu_lengths(a);
    if (l.request == 0 && l.response == 0)
        return s + fmt::format(R"("kind":"unknown","data":"{}"}})", to_hex(d));
    if ((request ? l.request : l.response) != static_cast<int>(a.size()))
        return bad(fmt::format("{} bytes do not fit function {} as a {}", a.size(), fc & 0x7F,
                               request ? "request" : "response"));
    if (request) {
        ctx = Context{unit, fc, d.size() >= 2 ? u16(d, 0) : 0, d.size() >= 4 ? u16(d, 2) : 0};
        s += R"("kind":"request")";
        switch (fc) {
        case 1:
        case 2:
        case 3:
        case 4:
            return s + fmt::format(R"(,"addr":{},"count":{}}})", u16(d, 0), u16(d, 2));
        case 5: {
            int v = u16(d, 2);
            if (v != 0xFF00 && v != 0) return bad("a coil is written with FF00 or 0000");
            return s + fmt::format(R"(,"addr":{},"value":{}}})", u16(d, 0), v ? "true" : "false");
        }
        case 6:
            return s + fmt::format(R"(,"addr":{},"value":{}}})", u16(d, 0), u16(d, 2));
        case 8:
            return s + fmt::format(R"(,"sub":{},"value":{}}})", u16(d, 0), u16(d, 2));
        case 15:
            return s + fmt::format(R"(,"addr":{},"count":{},"bits":{}}})", u16(d, 0), u16(d, 2),
                                   bits_json(d.substr(5), static_cast<size_t>(u16(d, 2))));
        case 16:
            return s + fmt::format(R"(,"addr":{},"count":{},"regs":{}}})", u16(d, 0), u16(d, 2),
                                   regs_json(d.substr(5)));
        case 23:
            return s + fmt::format(R"(,"read_addr":{},"read_count":{},"addr":{},"count":{},"regs":{}}})",
                                   u16(d, 0), u16(d, 2), u16(d, 4), u16(d, 6), regs_json(d.substr(9)));
        default:
            return s + "}";
        }
    }
    bool answers = ctx.unit == unit && ctx.fc == (fc & 0x7F);
    Context asked = ctx;
    ctx = Context{};
    if (fc & 0x80)
        return s + fmt::format(R"("kind":"exception","exception":{},"error":"{}"}})", u8(d, 0),
                               exception_name(u8(d, 0)));
    s += R"("kind":"response")";
    switch (fc) {
    case 1:
    case 2: {
        size_t n = d.empty() ? 0 : (d.size() - 1) * 8;
        if (answers && asked.count > 0 && static_cast<size_t>(asked.count) <= n)
            n = static_cast<size_t>(asked.count);
        return s + fmt::format(R"(,"bits":{}}})", bits_json(d.substr(1), n));
    }
    case 3:
    case 4:
    case 23:
        if (u8(d, 0) % 2) return bad("odd byte count for registers");
        if (answers && fc != 23)
            return s + fmt::format(R"(,"addr":{},"regs":{}}})", asked.addr, regs_json(d.substr(1)));
        return s + fmt::format(R"(,"regs":{}}})", regs_json(d.substr(1)));
    case 5:
        return s + fmt::format(R"(,"addr":{},"value":{}}})", u16(d, 0), u16(d, 2) ? "true" : "false");
    case 6:
        return s + fmt::format(R"(,"addr":{},"value":{}}})", u16(d, 0), u16(d, 2));
    case 8:
        return s + fmt::format(R"(,"sub":{},"value":{}}})", u16(d, 0), u16(d, 2));
    case 15:
    case 16:
        return s + fmt::format(R"(,"addr":{},"count":{}}})", u16(d, 0), u16(d, 2));
    case 7:
        return s + fmt::format(R"(,"status":{}}})", u8(d, 0));
    case 11:
        return s + fmt::format(R"(,"status":{},"events":{}}})", u16(d, 0), u16(d, 2));
    default:
        return s + fmt::format(R"(,"data":"{}"}})", to_hex(d.substr(1)));
    }
}

namespace {

struct Obj {
    simdjson::dom::object o;
    std::string err;
    int64_t num(const char* k, int64_t lo, int64_t hi, std::optional<int64_t> dflt = {}) {
        if (!err.empty()) return 0;
        auto v = o[k];
        if (v.error()) {
            if (dflt) return *dflt;
            err = fmt::format("modbus: \"{}\" is missing", k);
            return 0;
        }
        int64_t x;
        if (v.get_int64().get(x) || x < lo || x > hi) {
            err = fmt::format("modbus: \"{}\" must be an integer from {} to {}", k, lo, hi);
            return 0;
        }
        return x;
    }
    std::vector<int64_t> list(const char* k, int64_t lo, int64_t hi, size_t max) {
        std::vector<int64_t> out;
        if (!err.empty()) return out;
        simdjson::dom::array arr;
        if (o[k].get_array().get(arr)) {
            err = fmt::format("modbus: \"{}\" must be an array", k);
            return out;
        }
        for (auto e : arr) {
            int64_t x;
            bool b;
            if (!e.get_bool().get(b))
                x = b;
            else if (e.get_int64().get(x) || x < lo || x > hi) {
                err = fmt::format("modbus: \"{}\" holds integers from {} to {}", k, lo, hi);
                return out;
            }
            out.push_back(x);
        }
        if (out.empty() || out.size() > max) err = fmt::format("modbus: \"{}\" needs 1 to {} values", k, max);
        return out;
    }
};

void put_bits(std::string& out, const std::vector<int64_t>& bits) {
    out.push_back(static_cast<char>((bits.size() + 7) / 8));
    for (size_t i = 0; i < bits.size(); i += 8) {
        int b = 0;
        for (size_t j = 0; j < 8 && i + j < bits.size(); ++j)
            b |= (bits[i + j] ? 1 : 0) << j;
        out.push_back(static_cast<char>(b));
    }
}
void put_regs(std::string& out, const std::vector<int64_t>& regs, bool with_count) {
    if (with_count) out.push_back(static_cast<char>(regs.size() * 2));
    for (auto r : regs)
        put16(out, static_cast<int>(r & 0xFFFF));
}

} // namespace

Expected<std::optional<ValueSpec>> spec_of(simdjson::dom::object o) {
    std::string_view type;
    auto t = o["type"];
    if (t.error()) return std::nullopt;
    if (t.get_string().get(type))
        return fail(Exit::bad_data, "modbus: \"type\" must be a string like \"float32\"");
    auto spec = parse_type(type);
    if (!spec) return fail(Exit::bad_data, "modbus: " + spec.error().message);
    if (auto ov = o["order"]; !ov.error()) {
        std::string_view order;
        std::optional<Order> ord;
        if (!ov.get_string().get(order)) ord = parse_order(order);
        if (!ord) return fail(Exit::bad_data, "modbus: \"order\" is ABCD, CDAB, BADC or DCBA");
        spec->order = *ord;
    }
    for (auto [key, field] : {std::pair{"scale", &spec->scale}, std::pair{"offset", &spec->offset}}) {
        auto v = o[key];
        if (v.error()) continue;
        if (v.get_double().get(*field) || !std::isfinite(*field) || (*field == 0 && key[0] == 's'))
            return fail(Exit::bad_data, fmt::format("modbus: \"{}\" must be a number{}", key,
                                                    key[0] == 's' ? " other than 0" : ""));
    }
    if (auto d = o["decimals"]; !d.error()) {
        int64_t n = 0;
        if (d.get_int64().get(n) || n < 0 || n > 15)
            return fail(Exit::bad_data, "modbus: \"decimals\" must be an integer from 0 to 15");
        spec->decimals = static_cast<int>(n);
    }
    return spec;
}

Expected<std::optional<ValueSpec>> spec_of(std::string_view json) {
    thread_local simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::object o;
    if (parser.parse(padded).get_object().get(o)) return std::nullopt;
    return spec_of(o);
}

Expected<std::string> encode(std::string_view json) {
    thread_local simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc;
    Obj q;
    if (parser.parse(padded).get(doc) || doc.get_object().get(q.o))
        return fail(Exit::bad_data,
                    "modbus: expected an object like {\"unit\":1,\"fc\":3,\"addr\":0,\"count\":2}");
    std::string_view kind = "request";
    if (auto k = q.o["kind"]; !k.error() && k.get_string().get(kind))
        return fail(Exit::bad_data, "modbus: \"kind\" must be a string");
    int unit = static_cast<int>(q.num("unit", 0, 255, 1));
    int fc = static_cast<int>(q.num("fc", 1, 127));
    if (!q.err.empty()) return fail(Exit::bad_data, q.err); // a bad unit or fc: named, not "function 0"
    auto spec = spec_of(q.o);
    if (!spec) return std::unexpected(spec.error());
    if (*spec && kind == "request" && (fc == 3 || fc == 4 || fc == 6 || fc == 16)) {
        int n = registers_for(**spec);
        std::string out;
        out.push_back(static_cast<char>(unit));
        out.push_back(static_cast<char>(fc));
        put16(out, static_cast<int>(q.num("addr", 0, 65535)));
        if (fc == 3 || fc == 4) { // "count" is in values of the type
            int64_t values = q.num("count", 1, 125, 1);
            if (q.err.empty() && values * n > 125)
                q.err = fmt::format("modbus: {} {} values take {} registers; a read takes at most 125",
                                    values, type_name(**spec), values * n);
            put16(out, static_cast<int>(values * n));
        } else {
            std::vector<uint16_t> regs;
            auto add = [&](simdjson::dom::element e) {
                auto r = registers_of(simdjson::minify(e), **spec);
                if (!r && q.err.empty()) q.err = "modbus: " + r.error().message;
                if (r) regs.insert(regs.end(), r->begin(), r->end());
            };
            simdjson::dom::array arr;
            simdjson::dom::element one;
            if (fc == 16 && !q.o["values"].get_array().get(arr))
                for (auto e : arr)
                    add(e);
            else if (!q.o["value"].get(one))
                add(one);
            else
                q.err = fmt::format("modbus: a typed write needs {}",
                                    fc == 16 ? "\"values\": [...]" : "\"value\"");
            if (q.err.empty() && fc == 6 && regs.size() != 1)
                q.err = fmt::format("modbus: fc 6 writes one register; {} takes {} (use fc 16)",
                                    type_name(**spec), regs.size());
            if (q.err.empty() && (regs.empty() || regs.size() > 123))
                q.err = fmt::format("modbus: a write takes 1 to 123 registers, not {}", regs.size());
            if (fc == 16)
                put16(out, static_cast<int>(regs.size())), out.push_back(static_cast<char>(regs.size() * 2));
            for (auto r : regs)
                put16(out, r);
        }
        if (!q.err.empty()) return fail(Exit::bad_data, q.err);
        return out;
    }
    std::string out;
    out.push_back(static_cast<char>(unit));
    out.push_back(static_cast<char>(fc));
    auto r16 = [&](const char* k) { put16(out, static_cast<int>(q.num(k, 0, 65535))); };
    if (kind == "exception") {
        out[1] = static_cast<char>(fc | 0x80);
        out.push_back(static_cast<char>(q.num("exception", 1, 255)));
    } else if (kind == "request") {
        switch (fc) {
        case 1:
        case 2:
            r16("addr"), put16(out, static_cast<int>(q.num("count", 1, 2000)));
            break;
        case 3:
        case 4:
            r16("addr"), put16(out, static_cast<int>(q.num("count", 1, 125)));
            break;
        case 5: {
            r16("addr");
            bool b = false;
            int64_t x = 0;
            auto v = q.o["value"];
            if (!v.get_bool().get(b))
                put16(out, b ? 0xFF00 : 0);
            else if (!v.get_int64().get(x) && (x == 0 || x == 1))
                put16(out, x ? 0xFF00 : 0);
            else if (q.err.empty())
                q.err = "modbus: a coil \"value\" is true or false";
            break;
        }
        case 6:
            r16("addr"), put16(out, static_cast<int>(q.num("value", -32768, 65535) & 0xFFFF));
            break;
        case 15: {
            r16("addr");
            auto bits = q.list("bits", 0, 1, 1968);
            put16(out, static_cast<int>(bits.size()));
            put_bits(out, bits);
            break;
        }
        case 16: {
            r16("addr");
            auto regs = q.list("regs", -32768, 65535, 123);
            put16(out, static_cast<int>(regs.size()));
            put_regs(out, regs, true);
            break;
        }
        case 23: {
            put16(out, static_cast<int>(q.num("read_addr", 0, 65535)));
            put16(out, static_cast<int>(q.num("read_count", 1, 125)));
            r16("addr");
            auto regs = q.list("regs", -32768, 65535, 121);
            put16(out, static_cast<int>(regs.size()));
            put_regs(out, regs, true);
            break;
        }
        case 8:
            put16(out, static_cast<int>(q.num("sub", 0, 65535))),
                put16(out, static_cast<int>(q.num("value", 0, 65535)));
            break;
        case 7:
        case 11:
        case 17:
            break;
        default:
            return fail(Exit::bad_data, fmt::format("modbus: cannot build a request for function {}", fc));
        }
    } else if (kind == "response") {
        switch (fc) {
        case 1:
        case 2:
            put_bits(out, q.list("bits", 0, 1, 2000));
            break;
        case 3:
        case 4:
        case 23:
            put_regs(out, q.list("regs", -32768, 65535, 125), true);
            break;
        case 5:
        case 6:
        case 15:
        case 16: {
            // echoes: 5 and 6 repeat the value, 15 and 16 the count
            r16("addr");
            if (fc == 5) {
                bool b = false;
                if (q.o["value"].get_bool().get(b)) q.err = "modbus: a coil \"value\" is true or false";
                put16(out, b ? 0xFF00 : 0);
            } else if (fc == 6) {
                put16(out, static_cast<int>(q.num("value", -32768, 65535) & 0xFFFF));
            } else {
                put16(out, static_cast<int>(q.num("count", 1, 2000)));
            }
            break;
        }
        default:
            return fail(Exit::bad_data, fmt::format("modbus: cannot build a response for function {}", fc));
        }
    } else {
        return fail(Exit::bad_data,
                    fmt::format("modbus: unknown \"kind\" '{}' (request, response, exception)", kind));
    }
    if (!q.err.empty()) return fail(Exit::bad_data, q.err);
    return out;
}

std::string read_request(int unit, int fc, int addr, int count) {
    std::string adu;
    adu.push_back(static_cast<char>(unit));
    adu.push_back(static_cast<char>(fc));
    put16(adu, addr);
    put16(adu, count);
    return adu;
}

Expected<ReadReply> read_reply(std::string_view a, int unit, int fc, int count) {
    if (a.size() < 3 || u8(a, 0) != unit || (u8(a, 1) & 0x7F) != fc)
        return fail(Exit::wrong_answer, "the reply is not for this request");
    if (u8(a, 1) & 0x80)
        return fail(Exit::wrong_answer, fmt::format("exception {} ({})", u8(a, 2), exception_name(u8(a, 2))));
    ReadReply r;
    size_t bytes = fc <= 2 ? static_cast<size_t>(count + 7) / 8 : static_cast<size_t>(count) * 2;
    if (static_cast<size_t>(u8(a, 2)) != bytes || a.size() != 3 + bytes)
        return fail(Exit::wrong_answer,
                    fmt::format("the reply holds {} data bytes, not the {} asked for", a.size() - 3, bytes));
    if (fc <= 2) {
        for (int i = 0; i < count; ++i)
            r.bits.push_back(static_cast<uint8_t>((u8(a, 3 + static_cast<size_t>(i / 8)) >> (i % 8)) & 1));
    } else {
        for (int i = 0; i < count; ++i)
            r.regs.push_back(static_cast<uint16_t>(u16(a, 3 + 2 * static_cast<size_t>(i))));
    }
    return r;
}

} // namespace m2m::modbus
