#include "apps/pub/message.hpp"
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <simdjson.h>
#include <unistd.h>

namespace m2m {

Expected<std::optional<Message>> single_message(const PubArgs& a) {
    Message m;
    m.line = 1;
    if (a.has_message) {
        m.body = a.message;
    } else if (!a.file.empty()) {
        std::ifstream f(a.file, std::ios::binary);
        if (!f) return fail(Exit::unavailable, fmt::format("cannot read '{}'", a.file));
        m.body.assign(std::istreambuf_iterator<char>(f), {});
        m.binary = true;
    } else if (a.stdin_message) {
        char buf[65536];
        ssize_t r;
        while ((r = ::read(STDIN_FILENO, buf, sizeof buf)) > 0)
            m.body.append(buf, static_cast<size_t>(r));
        m.binary = true;
    } else if (!a.null_message) {
        return std::optional<Message>();
    }
    return std::optional<Message>(std::move(m));
}

Status MessageReader::coap_fields(Message& m) const {
    for (auto& f : rec_.extra) {
        if (f.key != "coap") continue;
        simdjson::dom::parser p;
        simdjson::dom::object o;
        if (p.parse(f.raw_value).get_object().get(o))
            return fail(Exit::bad_data, R"("coap" must be an object: {"method":"PUT","path":"sensors/t2"})");
        for (auto field : o) {
            std::string_view v;
            if (field.key == "method" || field.key == "path") {
                if (field.value.get_string().get(v))
                    return fail(Exit::bad_data, fmt::format(R"("coap"."{}" must be a string)", field.key));
                if (field.key == "method" && v != "POST" && v != "PUT")
                    return fail(Exit::bad_data, fmt::format(R"("coap"."method" "{}": use POST or PUT)", v));
                (field.key == "method" ? m.coap_method : m.coap_path) = v;
            } // code, observe, content_format: what iot-sub wrote about an answer; not for sending
        }
    }
    return {};
}

} // namespace m2m
