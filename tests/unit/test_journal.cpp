// The --persist journal (mqtt/journal): what was appended and not done comes back after a
// restart, in order, whatever byte the previous run was cut at.
#include "mqtt/journal.hpp"
#include "mqtt/props.hpp"
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace m2m;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/m2m-journal-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string str() const { return path.string(); }
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void put(const fs::path& p, std::string_view bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

OutMsg msg(int i) {
    OutMsg m;
    m.topic = "t/" + std::to_string(i);
    m.payload = std::string(static_cast<size_t>(i % 7), static_cast<char>(i)) + "\n\0x" + std::to_string(i);
    m.qos = 1 + i % 2;
    m.retain = i % 3 == 0;
    return m;
}

std::vector<std::string> topics(const std::deque<OutMsg>& q) {
    std::vector<std::string> t;
    for (auto& m : q)
        t.push_back(m.topic);
    return t;
}

} // namespace

TEST_CASE("journal: what is not done comes back after a restart, in order, byte for byte") {
    TempDir d;
    {
        Journal j;
        std::deque<OutMsg> pending;
        REQUIRE(j.open(d.str(), pending));
        CHECK(pending.empty());
        for (int i = 0; i < 6; ++i) {
            OutMsg m = msg(i);
            if (i == 4) {
                auto& props = m.props.edit();
                props.content_type = "text/plain";
                props.correlation_data = std::string("\xff\x01", 2);
                props.user = {{"k", "1"}, {"k", "2"}};
            }
            REQUIRE(j.append(m));
            CHECK(m.jid == static_cast<uint64_t>(i));
        }
        j.done(0);
        j.done(2);
        j.done(5);
        j.sync();
        CHECK(j.live() == 3);
    }
    Journal j;
    std::deque<OutMsg> pending;
    REQUIRE(j.open(d.str(), pending));
    CHECK(j.damaged() == 0);
    REQUIRE(topics(pending) == std::vector<std::string>{"t/1", "t/3", "t/4"});
    for (auto& m : pending) {
        int i = std::stoi(m.topic.substr(2));
        OutMsg want = msg(i);
        CHECK(m.payload == want.payload);
        CHECK(m.qos == want.qos);
        CHECK(m.retain == want.retain);
        CHECK(m.resend);
        CHECK(static_cast<bool>(m.props) == (i == 4));
    }
    REQUIRE(pending[2].props);
    CHECK(pending[2].props->encode() == [] {
        PubProps p;
        p.content_type = "text/plain";
        p.correlation_data = std::string("\xff\x01", 2);
        p.user = {{"k", "1"}, {"k", "2"}};
        return p.encode();
    }());
    // new entries after the restart get ids of their own, after the kept ones
    OutMsg m = msg(9);
    REQUIRE(j.append(m));
    CHECK(m.jid > pending.back().jid);
}

TEST_CASE("journal: emptied once everything is done") {
    TempDir d;
    Journal j;
    std::deque<OutMsg> pending;
    REQUIRE(j.open(d.str(), pending));
    for (int i = 0; i < 3; ++i) {
        OutMsg m = msg(i);
        REQUIRE(j.append(m));
        j.done(m.jid);
    }
    j.sync();
    CHECK(fs::file_size(d.path / "journal") == 0);
}

TEST_CASE("journal: a restart cut at any byte keeps every whole record and drops only the torn one") {
    // One run's file: messages and done records interleaved as a bridge writes them.
    TempDir d;
    std::string full;
    {
        Journal j;
        std::deque<OutMsg> pending;
        REQUIRE(j.open(d.str(), pending));
        for (int i = 0; i < 8; ++i) {
            OutMsg m = msg(i);
            REQUIRE(j.append(m));
            if (i % 3 == 1) {
                j.done(static_cast<uint64_t>(i - 1));
                j.sync();
            }
        }
        full = slurp(d.path / "journal");
    }
    // Where each record ends, and what a file cut there must give back.
    std::vector<size_t> ends;
    for (size_t at = 0; at < full.size();
         at = full.find('\n', at + 19 + std::stoul(full.substr(at + 1, 8), nullptr, 16)) + 1)
        ends.push_back(full.find('\n', at + 19 + std::stoul(full.substr(at + 1, 8), nullptr, 16)) + 1);
    REQUIRE(ends.back() == full.size());
    int crash_points = 0;
    for (size_t cut = 0; cut <= full.size(); ++cut) {
        TempDir c;
        put(c.path / "journal", full.substr(0, cut));
        // what the whole records before the cut say
        std::vector<std::string> want;
        {
            std::vector<std::string> msgs, done;
            size_t at = 0;
            for (size_t e : ends) {
                if (e > cut) break;
                std::string body = full.substr(at + 19, e - at - 20);
                if (body[0] == 'M') {
                    auto t = body.find("\"topic\":\"") + 9;
                    msgs.push_back(body.substr(t, body.find('"', t) - t));
                } else {
                    std::istringstream ids(body.substr(1));
                    for (int id; ids >> id;)
                        done.push_back("t/" + std::to_string(id));
                }
                at = e;
            }
            for (auto& m : msgs)
                if (std::find(done.begin(), done.end(), m) == done.end()) want.push_back(m);
        }
        Journal j;
        std::deque<OutMsg> pending;
        REQUIRE(j.open(c.str(), pending));
        bool torn = std::find(ends.begin(), ends.end(), cut) == ends.end() && cut > 0;
        INFO("cut at byte " << cut);
        CHECK(topics(pending) == want);
        CHECK(j.damaged() == (torn ? 1u : 0u));
        // the file was rewritten whole: a second restart finds the same and nothing damaged
        Journal again;
        std::deque<OutMsg> pending2;
        REQUIRE(again.open(c.str(), pending2));
        CHECK(topics(pending2) == want);
        CHECK(again.damaged() == 0);
        ++crash_points;
    }
    CHECK(crash_points == static_cast<int>(full.size()) + 1);
}

TEST_CASE("journal: a record whose checksum does not match is not trusted") {
    TempDir d;
    std::string good = Journal::frame(R"(M{"id":0,"topic":"a","qos":1,"retain":false,"b64":"eA=="})");
    std::string bad = Journal::frame(R"(M{"id":1,"topic":"b","qos":1,"retain":false,"b64":"eA=="})");
    bad[25] ^= 1; // a flipped bit inside the body
    put(d.path / "journal", good + bad);
    Journal j;
    std::deque<OutMsg> pending;
    REQUIRE(j.open(d.str(), pending));
    CHECK(topics(pending) == std::vector<std::string>{"a"});
    CHECK(j.damaged() == 1);
}

TEST_CASE("journal: a directory that cannot be used is an error naming it") {
    Journal j;
    std::deque<OutMsg> pending;
    auto st = j.open("/proc/m2m-no-such-dir", pending);
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find("/proc/m2m-no-such-dir") != std::string::npos);
}
