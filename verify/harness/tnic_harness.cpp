// Verilator harness for tnic_kernel: one transaction per line on stdin, one
// result line per transaction on stdout. The TypeScript bridge
// (verify/rtl_bridge.ts) keeps one process running across many transactions.
//
// Requests (numbers decimal, byte strings hex, "-" for an empty string):
//   K <session> <key>                           LOAD_KEY
//   I <device>                                  SET_ID
//   L                                           LOCK
//   A <session> <msg>                           ATTEST
//   V <session> <device> <counter> <tag> <msg>  VERIFY
//   C <session> <device> <counter> <tag> <msg>  CHECK (tag only)
//   O <op> <session> <len>                      raw command with <len> zero bytes
//   S <seed> <stall_percent>                    random input-stream stalls
//   Z                                           pulse rst_n: keys, counters and id cleared
//   T <path>|-                                  start or stop a VCD trace (trace builds only)
//   P <seed> <cmd%> <in%> <res%> <trace>        start a pipelined batch: the
//                                               requests up to a line "G" run
//                                               back to back (see run_pipelined)
// The input stream carries beats of TNIC_DATA_W bits (the kernel's DATA_W,
// set at build time, 32 by default), the first message byte in the top bits.
// Result: "R <status> <tag hex> <counter> <cycles>", where cycles counts
// clock edges from the edge that accepts the command to the edge that raises
// res_valid. A malformed request gets "E <reason>" and changes nothing.
// A pipelined batch prints "R <status> <tag> <counter> <cycles> <accept edge>"
// per request, then "D <edges> <observation hash>". With trace 2 it first
// prints "C <edge> <word>..." with every observed signal of every cycle.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "Vtnic_kernel.h"
#include "verilated.h"
#ifdef TNIC_TRACE
#include "verilated_vcd_c.h"
#endif

#ifndef TNIC_DATA_W
#define TNIC_DATA_W 32
#endif
static_assert(TNIC_DATA_W == 32 || TNIC_DATA_W == 64 || TNIC_DATA_W == 128,
              "TNIC_DATA_W must be 32, 64 or 128, as the kernel's DATA_W");

namespace {

constexpr uint64_t kMaxCyclesPerOp = 50'000'000;
constexpr size_t kLanes = TNIC_DATA_W / 32;  // 32-bit words per input beat
constexpr size_t kBeatBytes = 4 * kLanes;

struct Request {
    uint32_t op = 0;
    uint32_t session = 0;
    uint32_t device = 0;
    uint64_t counter = 0;
    std::vector<uint8_t> tag;   // 32 bytes for VERIFY and CHECK
    std::vector<uint8_t> data;  // message or key bytes
};

struct Result {
    uint32_t status;
    uint8_t tag[32];
    uint64_t counter;
    uint64_t cycles;
};

bool parse_hex(const std::string& text, std::vector<uint8_t>& out) {
    out.clear();
    if (text == "-") return true;
    if (text.size() % 2 != 0) return false;
    for (size_t i = 0; i < text.size(); i += 2) {
        char* end = nullptr;
        std::string pair = text.substr(i, 2);
        unsigned long byte = std::strtoul(pair.c_str(), &end, 16);
        if (end != pair.c_str() + 2) return false;
        out.push_back(static_cast<uint8_t>(byte));
    }
    return true;
}

bool parse_u64(const std::string& text, uint64_t& out) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
    errno = 0;
    char* end = nullptr;
    out = std::strtoull(text.c_str(), &end, 10);
    return errno == 0 && *end == '\0';
}

bool parse_u32(const std::string& text, uint32_t& out) {
    uint64_t wide = 0;
    if (!parse_u64(text, wide) || wide > 0xffffffffULL) return false;
    out = static_cast<uint32_t>(wide);
    return true;
}

class Harness {
  public:
    Harness() : top_(new Vtnic_kernel) {
        top_->clk = 0;
        reset();
    }

    // Hold rst_n low for 4 edges, which clears the kernel's keys, counters and id.
    void reset() {
        top_->rst_n = 0;
        idle_inputs();
        for (int i = 0; i < 4; ++i) tick();
        top_->rst_n = 1;
        top_->eval();
    }

    ~Harness() {
        std::string ignored;
        trace("-", ignored);
        top_->final();
    }

    struct PipeOptions {
        uint64_t seed = 1;
        uint32_t cmd_stall = 0, in_stall = 0, res_stall = 0;  // percent of cycles
        int trace = 0;  // 0 none, 1 hash, 2 hash and per-cycle dump
    };
    struct PipeResult {
        Result res;
        uint64_t accept_edge = 0;
    };

    // Run requests back to back. Each cycle, in this order, the seeded
    // generator decides whether cmd_valid, in_valid and res_ready idle, and
    // it draws only for a non-zero percentage. Beats of accepted commands
    // queue for the input stream. CycleKernel.runPipelined in
    // sim/cycle/kernel_driver.ts mirrors this loop.
    bool run_pipelined(const std::vector<Request>& reqs, const PipeOptions& opt,
                       std::vector<PipeResult>& out, uint64_t& edges, uint32_t& hash,
                       std::string& trace_out, std::string& error) {
        rng_ = opt.seed ? opt.seed : 1;
        out.assign(reqs.size(), PipeResult{});
        std::vector<uint64_t> first_seen(reqs.size(), UINT64_MAX);
        std::vector<uint32_t> beats;  // queued input beats, kLanes words each
        size_t beat_head = 0, next_cmd = 0, next_res = 0;
        uint64_t c = 0;
        hash = 2166136261u;

        while (next_res < reqs.size()) {
            bool cmd_idle = draw(opt.cmd_stall);
            bool in_idle = draw(opt.in_stall);
            bool res_idle = draw(opt.res_stall);

            if (next_cmd < reqs.size()) drive_command(reqs[next_cmd]);
            top_->cmd_valid = next_cmd < reqs.size() && !cmd_idle;
            bool have_beat = kLanes * beat_head < beats.size();
            top_->in_valid = have_beat && !in_idle;
            set_in_data(have_beat ? &beats[kLanes * beat_head] : kIdleBeat);
            top_->res_ready = !res_idle;
            top_->eval();

            if (opt.trace > 0) observe(c, opt.trace > 1, hash, trace_out);
            bool cmd_fire = top_->cmd_valid && top_->cmd_ready;
            bool in_fire = top_->in_valid && top_->in_ready;
            bool res_fire = top_->res_valid && top_->res_ready;
            if (top_->res_valid && next_res < reqs.size() && first_seen[next_res] == UINT64_MAX)
                first_seen[next_res] = c;
            if (res_fire) {
                PipeResult& r = out[next_res];
                read_result(r.res);
                r.res.cycles = first_seen[next_res] - r.accept_edge;
                ++next_res;
            }
            if (cmd_fire) {
                out[next_cmd].accept_edge = c + 1;
                const std::vector<uint8_t>& data = reqs[next_cmd].data;
                size_t words = kLanes * ((data.size() + kBeatBytes - 1) / kBeatBytes);
                for (size_t w = 0; w < words; ++w) beats.push_back(word_at(data, w));
                ++next_cmd;
            }
            if (in_fire) ++beat_head;
            tick();
            ++c;
            if (c > kMaxCyclesPerOp) {
                error = "pipelined batch did not finish in " + std::to_string(c) + " cycles";
                return false;
            }
        }
        top_->cmd_valid = 0;
        top_->in_valid = 0;
        top_->res_ready = 0;
        top_->eval();
        edges = c;
        return true;
    }

    void set_stalls(uint64_t seed, uint32_t percent) {
        rng_ = seed ? seed : 1;
        stall_percent_ = percent;
    }

    // Drive one command and its input bytes; return the result.
    bool run(const Request& req, Result& res, std::string& error) {
        if (req.data.size() >= (1u << 16)) {
            error = "input of " + std::to_string(req.data.size()) + " bytes exceeds 65535";
            return false;
        }
        drive_command(req);
        top_->cmd_valid = 1;

        // Wait for cmd_ready, then the edge that accepts the command is edge 0.
        uint64_t waited = 0;
        while (true) {
            top_->eval();
            bool fire = top_->cmd_valid && top_->cmd_ready;
            tick();
            if (fire) break;
            if (++waited > kMaxCyclesPerOp) {
                error = "cmd_ready stayed low";
                return false;
            }
        }
        top_->cmd_valid = 0;

        size_t beats = (req.data.size() + kBeatBytes - 1) / kBeatBytes;
        size_t next_beat = 0;
        uint64_t cycles = 0;
        uint32_t beat[kLanes];
        while (!top_->res_valid) {
            bool offer = next_beat < beats && !stall();
            for (size_t l = 0; l < kLanes; ++l) beat[l] = word_at(req.data, kLanes * next_beat + l);
            top_->in_valid = offer;
            set_in_data(offer ? beat : kIdleBeat);
            top_->eval();
            bool in_fire = top_->in_valid && top_->in_ready;
            tick();
            ++cycles;
            if (in_fire) ++next_beat;
            if (cycles > kMaxCyclesPerOp) {
                error = "no result after " + std::to_string(cycles) + " cycles";
                return false;
            }
        }
        top_->in_valid = 0;
        if (next_beat != beats) {
            error = "kernel consumed " + std::to_string(next_beat) + " of " +
                    std::to_string(beats) + " input beats";
            return false;
        }

        read_result(res);
        res.cycles = cycles;

        // Take the result: one edge with res_ready high.
        top_->res_ready = 1;
        top_->eval();
        tick();
        top_->res_ready = 0;
        top_->eval();
        return true;
    }

  private:
    static constexpr uint32_t kIdleBeat[kLanes] = {};

    // Drive one beat of kLanes words: word 0 (the first four bytes) goes to
    // the top bits of in_data.
    void set_in_data(const uint32_t* lanes) {
#if TNIC_DATA_W == 32
        top_->in_data = lanes[0];
#elif TNIC_DATA_W == 64
        top_->in_data = (static_cast<uint64_t>(lanes[0]) << 32) | lanes[1];
#else
        for (size_t l = 0; l < kLanes; ++l) top_->in_data[kLanes - 1 - l] = lanes[l];
#endif
    }

    // The 32-bit words of in_data XORed, as sim/cycle/observation.ts folds them.
    uint32_t in_data_folded() const {
#if TNIC_DATA_W == 32
        return top_->in_data;
#elif TNIC_DATA_W == 64
        return static_cast<uint32_t>(top_->in_data >> 32) ^ static_cast<uint32_t>(top_->in_data);
#else
        uint32_t v = 0;
        for (size_t l = 0; l < kLanes; ++l) v ^= top_->in_data[l];
        return v;
#endif
    }

    void drive_command(const Request& req) {
        top_->cmd_op = req.op;
        top_->cmd_session = req.session;
        top_->cmd_len = static_cast<uint32_t>(req.data.size());
        top_->cmd_device = req.device;
        top_->cmd_counter = req.counter;
        for (int w = 0; w < 8; ++w) {
            // cmd_tag word w is bits [32w+31:32w], and tag byte 0 is bits [255:248].
            uint32_t v = 0;
            for (int b = 0; b < 4; ++b) {
                size_t idx = 31 - (4 * w + b);
                uint8_t byte = idx < req.tag.size() ? req.tag[idx] : 0;
                v |= static_cast<uint32_t>(byte) << (8 * b);
            }
            top_->cmd_tag[w] = v;
        }
    }

    void read_result(Result& res) {
        res.status = top_->res_status;
        for (int w = 0; w < 8; ++w) {
            uint32_t v = top_->res_tag[w];
            for (int b = 0; b < 4; ++b) res.tag[31 - (4 * w + b)] = (v >> (8 * b)) & 0xff;
        }
        res.counter = top_->res_counter;
    }

    // Fold every observed signal of this cycle into `hash` (32-bit FNV-1a
    // over words); with `dump`, also print them. Order and packing are the
    // contract with sim/cycle/observation.ts.
    void observe(uint64_t c, bool dump, uint32_t& hash, std::string& trace_out) {
        uint32_t w[32];
        int n = 0;
        w[n++] = top_->cmd_valid;
        w[n++] = top_->cmd_ready;
        w[n++] = top_->in_valid;
        w[n++] = top_->in_ready;
        w[n++] = in_data_folded();
        w[n++] = top_->res_valid;
        w[n++] = top_->res_ready;
        w[n++] = top_->res_status;
        w[n++] = static_cast<uint32_t>(top_->res_counter >> 32);
        w[n++] = static_cast<uint32_t>(top_->res_counter);
        for (int i = 7; i >= 0; --i) w[n++] = top_->res_tag[i];
        w[n++] = static_cast<uint32_t>(top_->obs_frontend >> 32);
        w[n++] = static_cast<uint32_t>(top_->obs_frontend);

        const size_t eng_words = sizeof(top_->obs_engines) / sizeof(uint32_t);
        char buf[16];
        if (dump) trace_out += "C " + std::to_string(c);
        for (int i = 0; i < n; ++i) {
            hash = (hash ^ w[i]) * 16777619u;
            if (dump) {
                std::snprintf(buf, sizeof buf, " %x", w[i]);
                trace_out += buf;
            }
        }

        // Engine g: its state word, wr_count, rd_count (most significant first).
        for (size_t g = 0; g < eng_words / 3; ++g) {
            for (int k = 2; k >= 0; --k) {
                uint32_t v = top_->obs_engines[3 * g + k];
                hash = (hash ^ v) * 16777619u;
                if (dump) {
                    std::snprintf(buf, sizeof buf, " %x", v);
                    trace_out += buf;
                }
            }
        }
        if (dump) trace_out += "\n";
    }

    bool draw(uint32_t percent) {
        if (percent == 0) return false;
        return next_random() % 100 < percent;
    }

    uint64_t next_random() {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return rng_;
    }

    void idle_inputs() {
        top_->cmd_valid = 0;
        top_->in_valid = 0;
        top_->res_ready = 0;
    }

    // One clock period is 10 time units: rising edge at 10n, falling at 10n + 5.
    void tick() {
        top_->clk = 1;
        top_->eval();
        dump(5);
        top_->clk = 0;
        top_->eval();
        dump(5);
    }

    void dump(uint64_t advance) {
#ifdef TNIC_TRACE
        if (vcd_) vcd_->dump(time_);
#endif
        time_ += advance;
    }

  public:
    // Start a VCD trace at `path`, or stop it for "-".
    bool trace(const std::string& path, std::string& error) {
#ifdef TNIC_TRACE
        if (vcd_) {
            vcd_->close();
            vcd_.reset();
        }
        if (path == "-") return true;
        Verilated::traceEverOn(true);
        vcd_.reset(new VerilatedVcdC);
        top_->trace(vcd_.get(), 99);
        vcd_->open(path.c_str());
        if (!vcd_->isOpen()) {
            error = "cannot open VCD file " + path;
            vcd_.reset();
            return false;
        }
        time_ = 0;
        return true;
#else
        (void)path;
        error = "this harness was built without --trace";
        return false;
#endif
    }

  private:

    static uint32_t word_at(const std::vector<uint8_t>& data, size_t w) {
        uint32_t v = 0;
        for (size_t b = 0; b < 4; ++b) {
            size_t i = 4 * w + b;
            uint8_t byte = i < data.size() ? data[i] : 0;
            v |= static_cast<uint32_t>(byte) << (8 * (3 - b));
        }
        return v;
    }

    // xorshift64: deterministic stalls from the seed given with S.
    bool stall() { return draw(stall_percent_); }

    std::unique_ptr<Vtnic_kernel> top_;
#ifdef TNIC_TRACE
    std::unique_ptr<VerilatedVcdC> vcd_;
#endif
    uint64_t time_ = 0;
    uint64_t rng_ = 1;
    uint32_t stall_percent_ = 0;
};

bool parse_request(const std::string& line, Request& req, std::string& error) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    std::vector<std::string> f;
    for (std::string tok; in >> tok;) f.push_back(tok);

    auto need = [&](size_t n) {
        if (f.size() == n) return true;
        error = "request " + kind + " takes " + std::to_string(n) + " fields, got " +
                std::to_string(f.size());
        return false;
    };
    auto bad = [&](const std::string& what, const std::string& value) {
        error = "invalid " + what + " '" + value + "'";
        return false;
    };

    if (kind == "K") {
        req.op = 0;
        if (!need(2)) return false;
        if (!parse_u32(f[0], req.session)) return bad("session", f[0]);
        if (!parse_hex(f[1], req.data)) return bad("key hex", f[1].substr(0, 16));
    } else if (kind == "I") {
        req.op = 4;
        if (!need(1)) return false;
        if (!parse_u32(f[0], req.device)) return bad("device", f[0]);
    } else if (kind == "L") {
        req.op = 5;
        if (!need(0)) return false;
    } else if (kind == "A") {
        req.op = 1;
        if (!need(2)) return false;
        if (!parse_u32(f[0], req.session)) return bad("session", f[0]);
        if (!parse_hex(f[1], req.data)) return bad("message hex", f[1].substr(0, 16));
    } else if (kind == "V" || kind == "C") {
        req.op = kind == "V" ? 2 : 3;
        if (!need(5)) return false;
        if (!parse_u32(f[0], req.session)) return bad("session", f[0]);
        if (!parse_u32(f[1], req.device)) return bad("device", f[1]);
        if (!parse_u64(f[2], req.counter)) return bad("counter", f[2]);
        if (!parse_hex(f[3], req.tag) || req.tag.size() != 32) return bad("tag", f[3]);
        if (!parse_hex(f[4], req.data)) return bad("message hex", f[4].substr(0, 16));
    } else if (kind == "O") {
        uint32_t len = 0;
        if (!need(3)) return false;
        if (!parse_u32(f[0], req.op) || req.op > 7) return bad("op", f[0]);
        if (!parse_u32(f[1], req.session)) return bad("session", f[1]);
        if (!parse_u32(f[2], len) || len > 65535) return bad("length", f[2]);
        req.data.assign(len, 0);
    } else {
        error = "unknown request '" + kind + "' (expected K, I, L, A, V, C, O, S or Z)";
        return false;
    }
    return true;
}

std::string hex_tag(const uint8_t* tag) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 32; ++i) {
        out += hex[tag[i] >> 4];
        out += hex[tag[i] & 15];
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    std::ios::sync_with_stdio(false);
    Harness harness;

    std::string line;
    std::string out;
    bool collecting = false;
    std::string batch_error;
    Harness::PipeOptions pipe;
    std::vector<Request> batch;
    while (std::getline(std::cin, line)) {
        std::string error;
        if (collecting) {
            if (line != "G") {
                Request req;
                if (!parse_request(line, req, error) && batch_error.empty()) {
                    batch_error = "batch request " + std::to_string(batch.size()) + ": " + error;
                }
                batch.push_back(req);
                continue;
            }
            collecting = false;
            std::vector<Harness::PipeResult> results;
            uint64_t edges = 0;
            uint32_t hash = 0;
            std::string trace;
            if (batch_error.empty() &&
                harness.run_pipelined(batch, pipe, results, edges, hash, trace, error)) {
                out += trace;
                for (const auto& r : results) {
                    out += "R " + std::to_string(r.res.status) + " " + hex_tag(r.res.tag) + " " +
                           std::to_string(r.res.counter) + " " + std::to_string(r.res.cycles) + " " +
                           std::to_string(r.accept_edge) + "\n";
                }
                char buf[16];
                std::snprintf(buf, sizeof buf, "%08x", hash);
                out += "D " + std::to_string(edges) + " " + buf + "\n";
            } else {
                out += "E " + (batch_error.empty() ? error : batch_error) + "\n";
            }
            batch.clear();
            batch_error.clear();
        } else if (!line.empty() && line[0] == 'P') {
            std::istringstream in(line.substr(1));
            std::string f[5];
            in >> f[0] >> f[1] >> f[2] >> f[3] >> f[4];
            uint64_t seed = 0;
            uint32_t pc = 0, pi = 0, pr = 0, trace = 0;
            if (parse_u64(f[0], seed) && parse_u32(f[1], pc) && parse_u32(f[2], pi) &&
                parse_u32(f[3], pr) && parse_u32(f[4], trace) && pc < 100 && pi < 100 &&
                pr < 100 && trace <= 2) {
                pipe = Harness::PipeOptions{seed, pc, pi, pr, static_cast<int>(trace)};
                collecting = true;
            } else {
                out += "E invalid batch request (expected P <seed> <cmd%> <in%> <res%> <trace 0..2>)\n";
            }
        } else if (line.rfind("T ", 0) == 0) {
            if (harness.trace(line.substr(2), error)) out += "R 0 - 0 0\n";
            else out += "E " + error + "\n";
        } else if (line == "Z") {
            harness.reset();
            out += "R 0 - 0 0\n";
        } else if (!line.empty() && line[0] == 'S') {
            std::istringstream in(line.substr(1));
            std::string seed_text, percent_text;
            in >> seed_text >> percent_text;
            uint64_t seed = 0;
            uint32_t percent = 0;
            if (parse_u64(seed_text, seed) && parse_u32(percent_text, percent) && percent < 100) {
                harness.set_stalls(seed, percent);
                out += "R 0 - 0 0\n";
            } else {
                out += "E invalid stall request (expected S <seed> <percent 0..99>)\n";
            }
        } else {
            Request req;
            Result res{};
            if (parse_request(line, req, error) && harness.run(req, res, error)) {
                out += "R " + std::to_string(res.status) + " " + hex_tag(res.tag) + " " +
                       std::to_string(res.counter) + " " + std::to_string(res.cycles) + "\n";
            } else {
                out += "E " + error + "\n";
            }
        }
        // Reply to a whole batch at once: flush only when no more input is buffered.
        if (std::cin.rdbuf()->in_avail() <= 0 || out.size() > (1u << 16)) {
            std::cout << out << std::flush;
            out.clear();
        }
    }
    std::cout << out << std::flush;
    return 0;
}
