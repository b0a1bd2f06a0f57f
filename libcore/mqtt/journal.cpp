#include "mqtt/journal.hpp"
#include "mqtt/props.hpp"
#include "records/record.hpp"
#include "util/bytes.hpp"
#include "util/log.hpp"
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>
#include <unordered_set>
#include <zlib.h>

namespace m2m {

namespace {

uint32_t crc(std::string_view s) {
    return static_cast<uint32_t>(
        ::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

bool hex8(std::string_view s, uint32_t& v) {
    if (s.size() != 8) return false;
    auto r = std::from_chars(s.data(), s.data() + 8, v, 16);
    return r.ec == std::errc() && r.ptr == s.data() + 8;
}

bool write_fully(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

std::string message_body(const OutMsg& m) {
    std::string s = fmt::format("M{{\"id\":{},\"topic\":", m.jid);
    append_json_string(s, m.topic);
    s += fmt::format(",\"qos\":{},\"retain\":{},\"b64\":\"", m.qos, m.retain ? "true" : "false");
    append_base64(s, m.payload);
    s += '"';
    if (m.props) {
        s += ",\"pb64\":\"";
        append_base64(s, m.props->encode());
        s += '"';
    }
    s += '}';
    return s;
}

} // namespace

std::string Journal::frame(std::string_view body) {
    return fmt::format("#{:08x} {:08x} {}\n", body.size(), crc(body), body);
}

Journal::~Journal() {
    if (fd_ >= 0) {
        sync();
        ::close(fd_);
    }
}

Status Journal::open(const std::string& dir, std::deque<OutMsg>& pending) {
    auto bad = [&](const std::string& what) {
        return fail(Exit::usage, fmt::format("--persist {}: {}: {}", dir, what, std::strerror(errno)));
    };
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    dir_ = dir;
    path_ = dir + "/journal";
    int rfd = ::open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (rfd < 0) return bad("cannot open the journal");
    std::string data;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(rfd);
            return bad("cannot read the journal");
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    ::close(rfd);

    // every whole record, up to the first damaged one (a torn tail: nothing follows it but
    // what the crash cut)
    std::deque<OutMsg> msgs;
    std::unordered_set<uint64_t> done;
    simdjson::dom::parser parser;
    size_t at = 0;
    uint64_t max_id = 0;
    bool any = false;
    while (at < data.size()) {
        std::string_view rest(data.data() + at, data.size() - at);
        uint32_t len = 0, sum = 0;
        if (rest.size() < 19 || rest[0] != '#' || !hex8(rest.substr(1, 8), len) || rest[9] != ' ' ||
            !hex8(rest.substr(10, 8), sum) || rest[18] != ' ' || rest.size() < 19 + size_t{len} + 1 ||
            rest[19 + len] != '\n' || crc(rest.substr(19, len)) != sum) {
            ++damaged_;
            log::warn("--persist: the journal's last {} byte(s) are damaged (a crash or a full disk while "
                      "writing); dropped, counted as journal_damaged",
                      rest.size());
            break;
        }
        std::string_view body = rest.substr(19, len);
        at += 19 + size_t{len} + 1;
        if (!body.empty() && body[0] == 'D') {
            body.remove_prefix(1);
            while (!body.empty()) {
                while (!body.empty() && body[0] == ' ')
                    body.remove_prefix(1);
                uint64_t id = 0;
                auto r = std::from_chars(body.data(), body.data() + body.size(), id);
                if (r.ec != std::errc()) break;
                done.insert(id);
                body.remove_prefix(static_cast<size_t>(r.ptr - body.data()));
            }
            continue;
        }
        simdjson::dom::element e;
        std::string_view topic, b64, pb64;
        uint64_t id = 0;
        int64_t qos = 1;
        bool retain = false;
        if (body.empty() || body[0] != 'M' || parser.parse(body.data() + 1, body.size() - 1).get(e) ||
            e["id"].get_uint64().get(id) || e["topic"].get_string().get(topic) ||
            e["b64"].get_string().get(b64) || e["qos"].get_int64().get(qos) ||
            e["retain"].get_bool().get(retain)) {
            ++damaged_; // whole and checksummed, yet not ours: skipped, counted
            continue;
        }
        OutMsg m;
        m.topic = std::string(topic);
        m.payload = decode_base64(b64).value_or("");
        m.qos = static_cast<int>(qos);
        m.retain = retain;
        if (!e["pb64"].get_string().get(pb64)) {
            // properties are kept as their MQTT 5 block; read back through props_to_json
            auto block = decode_base64(pb64).value_or("");
            if (!block.empty()) {
                (void)m.props.edit().merge_json(props_to_json(block));
            }
        }
        m.jid = id;
        m.resend = true;
        max_id = std::max(max_id, id);
        any = true;
        msgs.push_back(std::move(m));
    }
    next_ = any ? max_id + 1 : 0;

    // the messages not done, written to a new file that replaces the old one at once
    std::string kept;
    for (auto& m : msgs)
        if (!done.count(m.jid)) kept += frame(message_body(m));
    std::string tmp = path_ + ".new";
    int wfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (wfd < 0) return bad("cannot write the journal");
    if (!write_fully(wfd, kept) || ::fdatasync(wfd) != 0) {
        ::close(wfd);
        ::unlink(tmp.c_str());
        return bad("cannot write the journal");
    }
    ::close(wfd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return bad("cannot replace the journal");
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd); // the rename itself
        ::close(dfd);
    }
    size_ = kept.size();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) return bad("cannot open the journal");
    for (auto& m : msgs)
        if (!done.count(m.jid)) {
            ++live_;
            pending.push_back(std::move(m));
        }
    return {};
}

bool Journal::write_record(std::string_view body) {
    std::string rec = frame(body);
    if (write_fully(fd_, rec)) {
        size_ += rec.size();
        return true;
    }
    int err = errno;
    // a short write leaves a torn record: cut it off so the next one is whole (open() would drop
    // everything after it)
    (void)::ftruncate(fd_, static_cast<off_t>(size_));
    if (write_errors_++ == 0) log::warn("--persist: cannot write the journal: {}", std::strerror(err));
    return false;
}

bool Journal::append(OutMsg& m) {
    if (fd_ < 0) return false;
    m.jid = next_++;
    if (!write_record(message_body(m))) {
        m.jid = OutMsg::no_journal;
        return false;
    }
    ++live_;
    dirty_ = true;
    if (sync_ == JournalSync::message) sync();
    return true;
}

void Journal::done(uint64_t jid) {
    if (fd_ < 0 || jid == OutMsg::no_journal || jid >= next_) return;
    done_.push_back(jid);
}

void Journal::sync() {
    if (fd_ < 0) return;
    if (!done_.empty() && done_.size() >= live_) {
        // everything is done: emptied below, no done record needed (it might not fit on a full disk)
        done_.clear();
        live_ = 0;
        dirty_ = true;
    } else if (!done_.empty()) {
        std::string body = "D";
        for (uint64_t id : done_)
            body += fmt::format(" {}", id);
        if (write_record(body)) {
            live_ -= std::min<uint64_t>(live_, done_.size());
            done_.clear();
            dirty_ = true;
        }
    }
    if (!dirty_) return;
    dirty_ = false;
    if (live_ == 0) {
        // nothing left to send: an empty journal says the same, in no space
        if (::ftruncate(fd_, 0) == 0) next_ = 0, size_ = 0;
    }
    if (sync_ != JournalSync::off && ::fdatasync(fd_) != 0 && write_errors_++ == 0)
        log::warn("--persist: cannot sync the journal: {}", std::strerror(errno));
}

} // namespace m2m
