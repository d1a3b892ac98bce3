// SPDX-License-Identifier: MIT
// ProgressBar: long work shows how far it is, how fast it goes and when it will end.
//   [train]  37% |███████▍            | 111/300 steps  2.41 steps/s  elapsed 0:46  ETA 1:18  loss 0.512
// On a terminal the bar redraws in place (at most 10 times a second); otherwise (a log file, CI)
// it prints a plain line every 10% or 30 s, so logs stay readable.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "prefopt/core/types.hpp"

namespace prefopt {

/// "1:02:03" / "4:05"; "?" for unknown or absurd durations.
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  /// `start_at` > 0 when resuming: the rate and ETA count only the work done in this process.
  ProgressBar(std::string label, index_t total, std::string unit, bool enabled = true, index_t start_at = 0,
              std::FILE* out = stderr)
      : label_(std::move(label)), unit_(std::move(unit)), total_(total), start_at_(start_at),
        enabled_(enabled && total > 0), out_(out), tty_(::isatty(::fileno(out)) == 1),
        start_(Clock::now()), last_draw_(start_) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  /// `done` items of total are complete; `note` (e.g. the latest loss) is shown after the ETA.
  void update(index_t done, const std::string& note = {}) {
    if (!enabled_ || finished_) return;
    done_ = done;
    note_ = note;
    const auto now = Clock::now();
    const double since_draw = seconds(last_draw_, now);
    if (tty_) {
      if (since_draw < 0.1 && done < total_) return;
    } else {
      const index_t decile = done * 10 / total_;
      if (decile == last_decile_ && since_draw < 30 && done < total_) return;
      last_decile_ = decile;
    }
    last_draw_ = now;
    draw(now);
    if (done >= total_) finish();
  }

  /// Ends the bar (a newline on a terminal). Called by the destructor too.
  void finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    if (tty_) {
      draw(Clock::now());
      std::fputc('\n', out_);
    }
    std::fflush(out_);
  }

  /// Clears the bar's line on a terminal, so that another line can be printed in its place (the
  /// next update() redraws the bar below it).
  void clear_line() {
    if (enabled_ && !finished_ && tty_) std::fputs("\r\033[K", out_);
  }

  /// Seconds since the bar was made.
  double elapsed() const { return seconds(start_, Clock::now()); }

 private:
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }

  void draw(Clock::time_point now) {
    const double elapsed = seconds(start_, now);
    const index_t fresh = done_ - start_at_;
    const double rate = elapsed > 0 && fresh > 0 ? static_cast<double>(fresh) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : -1;
    const double frac = static_cast<double>(done_) / static_cast<double>(total_);
    std::string line = "[" + label_ + "] ";
    char buf[160];
    std::snprintf(buf, sizeof buf, "%3d%% ", static_cast<int>(frac * 100));
    line += buf;
    if (tty_) {
      constexpr int width = 20;
      static const char* eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
      const double filled = frac * width;
      const int full = static_cast<int>(filled);
      line += "|";
      for (int i = 0; i < full && i < width; ++i) line += "█";
      if (full < width) {
        line += eighths[static_cast<int>((filled - full) * 8)];
        line.append(static_cast<std::size_t>(width - full - 1), ' ');
      }
      line += "| ";
    }
    std::snprintf(buf, sizeof buf, "%lld/%lld %s  %.3g %s/s  elapsed %s  ETA %s", static_cast<long long>(done_),
                  static_cast<long long>(total_), unit_.c_str(), rate, unit_.c_str(), format_duration(elapsed).c_str(),
                  format_duration(eta).c_str());
    line += buf;
    if (!note_.empty()) line += "  " + note_;
    if (tty_) std::fprintf(out_, "\r%s\033[K", line.c_str());
    else std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }

  std::string label_, unit_, note_;
  index_t total_, start_at_, done_ = 0, last_decile_ = -1;
  bool enabled_, finished_ = false;
  std::FILE* out_;
  bool tty_;
  Clock::time_point start_, last_draw_;
};

}  // namespace prefopt
