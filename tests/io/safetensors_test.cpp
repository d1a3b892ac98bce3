// SPDX-License-Identifier: MIT
// The safetensors reader and writer, the 16-bit conversions, MappedFile and atomic writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/float16.hpp"
#include "prefopt/io/mapped_file.hpp"
#include "prefopt/io/safetensors.hpp"
#include "prefopt/io/safetensors_writer.hpp"

using namespace prefopt;
using namespace prefopt::test;
namespace fs = std::filesystem;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

SafetensorsHeader parse(const std::string& bytes) {
  return parse_safetensors_header(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), "test.safetensors");
}

// A header with one F32 tensor "t" of `shape` at `offsets`, followed by `data_size` zero bytes.
std::string one_tensor(const std::string& shape, const std::string& offsets, std::size_t data_size,
                       const std::string& dtype = "F32") {
  return raw_safetensors(R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" +
                             offsets + "}}",
                         std::string(data_size, '\0'));
}

}  // namespace

TEST_CASE("half_to_float is exact for every binary16 bit pattern", "[io][float16]") {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const int exponent = static_cast<int>((h >> 10) & 0x1F);
    const int fraction = static_cast<int>(h & 0x3FF);
    const bool negative = (h & 0x8000) != 0;
    const float got = half_to_float(static_cast<std::uint16_t>(h));
    CAPTURE(h);
    if (exponent == 31 && fraction != 0) {
      REQUIRE(std::isnan(got));
      CHECK((bits_of(got) & 0x7FFFFFu) == static_cast<std::uint32_t>(fraction) << 13);  // payload kept
      CHECK(std::signbit(got) == negative);
      continue;
    }
    // value = fraction * 2^-24 for subnormals, (1024 + fraction) * 2^(exponent - 25) otherwise.
    double expected = exponent == 31 ? std::numeric_limits<double>::infinity()
                      : exponent == 0 ? std::ldexp(fraction, -24)
                                      : std::ldexp(1024 + fraction, exponent - 25);
    if (negative) expected = -expected;
    REQUIRE(static_cast<double>(got) == expected);
    REQUIRE(std::signbit(got) == negative);
  }
  CHECK(half_to_float(0x0001) == 0x1p-24f);      // smallest subnormal
  CHECK(half_to_float(0x03FF) == 1023 * 0x1p-24f);  // largest subnormal
  CHECK(half_to_float(0x0400) == 0x1p-14f);      // smallest normal
  CHECK(half_to_float(0x7BFF) == 65504.0f);      // largest finite
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(half_to_float(0xC000) == -2.0f);
}

TEST_CASE("bfloat16_to_float keeps the value of known patterns", "[io][float16]") {
  CHECK(bfloat16_to_float(0x3F80) == 1.0f);
  CHECK(bfloat16_to_float(0xC000) == -2.0f);
  CHECK(bfloat16_to_float(0x4049) == 3.140625f);
  CHECK(bfloat16_to_float(0x0001) == 0x1p-133f);  // smallest bfloat16 subnormal
  CHECK(bfloat16_to_float(0x007F) == 127 * 0x1p-133f);
  CHECK(bfloat16_to_float(0x7F80) == std::numeric_limits<float>::infinity());
  CHECK(bfloat16_to_float(0xFF80) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(bfloat16_to_float(0x7FC1)));
  CHECK(bits_of(bfloat16_to_float(0x8000)) == 0x80000000u);  // -0
}

TEST_CASE("double_to_float rounds to nearest and overflows to infinity without UB", "[io][float16]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float flt_max = std::numeric_limits<float>::max();
  CHECK(double_to_float(0.1) == 0.1f);
  CHECK(double_to_float(1e300) == inf);
  CHECK(double_to_float(-1e300) == -inf);
  CHECK(double_to_float(static_cast<double>(flt_max)) == flt_max);
  CHECK(double_to_float(0x1.fffffefffffffp127) == flt_max);  // just below the rounding midpoint
  CHECK(double_to_float(0x1.ffffffp127) == inf);             // the midpoint rounds to even: 2^128
  CHECK(double_to_float(1e-50) == 0.0f);
  CHECK(std::isnan(double_to_float(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("F16, BF16, F32 and F64 tensors load with their exact values, subnormals included", "[io][safetensors]") {
  const fs::path dir = scratch_dir("dtypes");
  // F16: 1, -2, smallest subnormal, largest subnormal, -smallest subnormal, 65504, inf, -0.
  const std::vector<std::uint16_t> f16 = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x8001, 0x7BFF, 0x7C00, 0x8000};
  const std::vector<float> f16_values = {1.0f, -2.0f, 0x1p-24f, 1023 * 0x1p-24f, -0x1p-24f, 65504.0f,
                                         std::numeric_limits<float>::infinity(), -0.0f};
  // BF16: 1, -2, pi rounded, smallest subnormal, -inf, 1e38 rounded.
  const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC000, 0x4049, 0x0001, 0xFF80, 0x7E97};
  const std::vector<float> bf16_values = {1.0f, -2.0f, 3.140625f, 0x1p-133f, -std::numeric_limits<float>::infinity(),
                                          bfloat16_to_float(0x7E97)};
  const std::vector<float> f32 = {1.5f, -0.0f, 1e-45f /* float subnormal */, 3.4e38f};
  const std::vector<double> f64 = {0.1, -1e-310 /* double subnormal */, 1e300};
  write_bytes(dir / "m.safetensors", make_safetensors({{"half", "F16", {2, 4}, bytes_of(f16)},
                                                       {"brain", "BF16", {6}, bytes_of(bf16)},
                                                       {"single", "F32", {2, 2}, bytes_of(f32)},
                                                       {"double", "F64", {3}, bytes_of(f64)}}));
  const SafetensorsFile file(dir / "m.safetensors");
  REQUIRE(file.tensors().size() == 4);
  CHECK(file.find("half")->shape == std::vector<index_t>{2, 4});
  CHECK(file.find("half")->dtype == Dtype::f16);

  const auto half = file.read<float>("half");
  for (std::size_t i = 0; i < f16.size(); ++i) {
    CAPTURE(i);
    CHECK(bits_of(half[i]) == bits_of(f16_values[i]));
  }
  const auto half_d = file.read<double>("half");
  for (std::size_t i = 0; i < f16.size(); ++i) CHECK(half_d[i] == static_cast<double>(f16_values[i]));
  const auto brain = file.read<float>("brain");
  for (std::size_t i = 0; i < bf16.size(); ++i) CHECK(bits_of(brain[i]) == bits_of(bf16_values[i]));
  CHECK(brain[5] == Approx(1e38f).epsilon(0.01));
  const auto single = file.read<float>("single");
  for (std::size_t i = 0; i < f32.size(); ++i) CHECK(bits_of(single[i]) == bits_of(f32[i]));
  const auto dbl = file.read<double>("double");
  CHECK(dbl == f64);
  const auto dbl_as_float = file.read<float>("double");
  CHECK(dbl_as_float[0] == 0.1f);
  CHECK(dbl_as_float[1] == -0.0f);
  CHECK(dbl_as_float[2] == std::numeric_limits<float>::infinity());
}

TEST_CASE("scalars, empty tensors and integer dtypes parse; non-float reads are refused", "[io][safetensors]") {
  const std::string bytes = make_safetensors({{"scalar", "F32", {}, bytes_of(std::vector<float>{2.0f})},
                                              {"empty", "F32", {0, 3}, ""},
                                              {"empty2", "BF16", {3, 0}, ""},
                                              {"ids", "I64", {2}, bytes_of(std::vector<std::int64_t>{1, 2})}});
  const SafetensorsHeader h = parse(bytes);
  REQUIRE(h.find("scalar") != nullptr);
  CHECK(h.find("scalar")->numel == 1);
  CHECK(h.find("scalar")->shape.empty());
  CHECK(h.find("empty")->numel == 0);
  CHECK(h.find("ids")->dtype == Dtype::i64);
  CHECK(h.metadata.at("format") == "pt");
  std::vector<float> out(2);
  const auto* data = reinterpret_cast<const std::byte*>(bytes.data()) + h.data_offset() + h.find("ids")->begin;
  CHECK_THROWS_WITH(convert_tensor(*h.find("ids"), data, 0, 2, out.data(), "test.safetensors"),
                    Catch::Contains("\"ids\" has dtype I64") && Catch::Contains("F32, F16, BF16 and F64"));
}

TEST_CASE("the writer pads the header to 8 bytes, leads with format=pt and round-trips bit for bit", "[io][safetensors]") {
  const fs::path dir = scratch_dir("writer");
  const float nan_payload = [] {
    const std::uint32_t b = 0x7FC01234u;
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
  }();
  const std::vector<float> a = {1.0f, -0.0f, nan_payload, 1e-45f, -3.5f, std::numeric_limits<float>::infinity()};
  const std::vector<float> b = {42.0f};
  save_safetensors_f32<float>(dir / "w.safetensors", {{"a", {2, 3}, a.data()}, {"b", {}, b.data()}});

  const std::string bytes = read_bytes(dir / "w.safetensors");
  REQUIRE(bytes.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 4 * (a.size() + b.size()));
  const std::string json = bytes.substr(8, n);
  CHECK(json.rfind(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})", 0) == 0);
  CHECK(json.find_last_not_of(' ') == json.find_last_of('}'));  // only spaces after the JSON

  const SafetensorsFile file(dir / "w.safetensors");
  const auto back = file.read<float>("a");
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(bits_of(back[i]) == bits_of(a[i]));
  CHECK(file.read<float>("b") == b);
  CHECK(file.header().metadata == pytorch_safetensors_metadata());

  CHECK_THROWS_WITH(safetensors_f32_header<float>({{"a", {1}, a.data()}, {"a", {1}, a.data()}}, {}),
                    Catch::Contains("reserved or repeated"));
}

TEST_CASE("malformed safetensors headers give clear errors", "[io][safetensors]") {
  SECTION("shorter than the length prefix") {
    CHECK_THROWS_WITH(parse(std::string(5, '\0')), Catch::Contains("test.safetensors") && Catch::Contains("too short"));
  }
  SECTION("header length larger than the file") {
    CHECK_THROWS_WITH(parse(le64(1000) + "{}"), Catch::Contains("exceeds the file size"));
  }
  SECTION("header length beyond the 100 MB limit") {
    CHECK_THROWS_WITH(parse(le64(std::uint64_t{1} << 40) + "{}"), Catch::Contains("exceeds the limit"));
    CHECK_THROWS_WITH(parse(le64(~std::uint64_t{0}) + "{}"), Catch::Contains("exceeds the limit"));
  }
  SECTION("header that is not JSON") {
    CHECK_THROWS_WITH(parse(raw_safetensors("{not json", "")), Catch::Contains("not valid JSON"));
    CHECK_THROWS_WITH(parse(raw_safetensors("[1, 2]", "")), Catch::Contains("starting with '{'"));
    CHECK_THROWS_WITH(parse(raw_safetensors("", "")), Catch::Contains("starting with '{'"));
    CHECK_THROWS_WITH(parse(raw_safetensors("{\"a\": \"\xff\"}", "")), Catch::Contains("not valid JSON"));
  }
  SECTION("unknown dtype names the tensor and the dtype") {
    CHECK_THROWS_WITH(parse(one_tensor("[2]", "[0, 8]", 8, "F17")),
                      Catch::Contains("tensor \"t\"") && Catch::Contains("unknown dtype \"F17\""));
  }
  SECTION("bad shapes") {
    CHECK_THROWS_WITH(parse(one_tensor("[-2]", "[0, 8]", 8)), Catch::Contains("non-negative integers"));
    CHECK_THROWS_WITH(parse(one_tensor("[2.0]", "[0, 8]", 8)), Catch::Contains("non-negative integers"));
    CHECK_THROWS_WITH(parse(one_tensor("\"2\"", "[0, 8]", 8)), Catch::Contains("non-negative integers"));
    CHECK_THROWS_WITH(parse(one_tensor("[4294967296, 4294967296, 4294967296]", "[0, 8]", 8)),
                      Catch::Contains("overflow"));
    CHECK_THROWS_WITH(parse(one_tensor("[18446744073709551615]", "[0, 8]", 8)), Catch::Contains("overflow"));
    CHECK_THROWS_WITH(parse(one_tensor("[4611686018427387904]", "[0, 8]", 8)), Catch::Contains("overflow"));
  }
  SECTION("byte length must match the shape") {
    CHECK_THROWS_WITH(parse(one_tensor("[3]", "[0, 8]", 8)), Catch::Contains("span 8 bytes") && Catch::Contains("needs 12"));
  }
  SECTION("offsets out of bounds") {
    CHECK_THROWS_WITH(parse(one_tensor("[2]", "[0, 8]", 7)), Catch::Contains("outside the data region"));
    CHECK_THROWS_WITH(parse(one_tensor("[2]", "[18446744073709551615, 7]", 8)), Catch::Contains("end before they begin"));
    CHECK_THROWS_WITH(parse(one_tensor("[2]", "[0]", 8)), Catch::Contains("data_offsets"));
    CHECK_THROWS_WITH(parse(one_tensor("[2]", "[0, -8]", 8)), Catch::Contains("data_offsets"));
  }
  SECTION("overlapping tensors") {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    CHECK_THROWS_WITH(parse(raw_safetensors(header, std::string(12, '\0'))),
                      Catch::Contains("\"a\" [0, 8] and \"b\" [4, 12] overlap"));
    const std::string inside =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
    CHECK_THROWS_WITH(parse(raw_safetensors(inside, std::string(8, '\0'))), Catch::Contains("overlap"));
  }
  SECTION("missing and ill-typed fields") {
    CHECK_THROWS_WITH(parse(raw_safetensors(R"({"t":{"dtype":"F32","shape":[1]}})", "")),
                      Catch::Contains("missing \"data_offsets\""));
    CHECK_THROWS_WITH(parse(raw_safetensors(R"({"t":[1]})", "")), Catch::Contains("must be a JSON object"));
    CHECK_THROWS_WITH(parse(raw_safetensors(R"({"t":{"dtype":7,"shape":[],"data_offsets":[0,4]}})", "xxxx")),
                      Catch::Contains("\"dtype\" must be a string"));
    CHECK_THROWS_WITH(parse(raw_safetensors(R"({"__metadata__":{"format":1}})", "")),
                      Catch::Contains("must be a string"));
    CHECK_THROWS_WITH(parse(raw_safetensors(R"({"__metadata__":[]})", "")), Catch::Contains("object of strings"));
  }
  SECTION("duplicate keys cannot shadow an entry") {
    const std::string header =
        R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    CHECK_THROWS_WITH(parse(raw_safetensors(header, std::string(8, '\0'))), Catch::Contains("repeats the key \"t\""));
  }
  SECTION("deep nesting is refused before it is built") {
    CHECK_THROWS_WITH(parse(raw_safetensors("{\"t\":" + std::string(10000, '[') + std::string(10000, ']') + "}", "")),
                      Catch::Contains("nests deeper"));
  }
}

TEST_CASE("two empty tensors may share an offset and gaps are tolerated", "[io][safetensors]") {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F16","shape":[0],"data_offsets":[4,4]},)"
      R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  const SafetensorsHeader h = parse(raw_safetensors(header, std::string(12, '\0')));
  CHECK(h.tensors.size() == 3);
  CHECK(h.tensors.back().name == "c");
}

TEST_CASE("a header of 100,000 tensors parses in linear time", "[io][safetensors]") {
  // Regression: with nlohmann's parser callback this took time quadratic in the entry count.
  std::string header = "{";
  const int n = 100000;
  for (int i = 0; i < n; ++i)
    header += (i ? ",\"t" : "\"t") + std::to_string(i) + R"(":{"dtype":"BF16","shape":[1],"data_offsets":[)" +
              std::to_string(2 * i) + "," + std::to_string(2 * i + 2) + "]}";
  header += "}";
  const SafetensorsHeader h = parse(raw_safetensors(header, std::string(2 * n, '\0')));
  REQUIRE(h.tensors.size() == static_cast<std::size_t>(n));
  CHECK(h.tensors.back().end == 2 * static_cast<std::uint64_t>(n));
}

TEST_CASE("truncated safetensors files are refused with the file named", "[io][safetensors]") {
  const fs::path dir = scratch_dir("truncated");
  const std::vector<float> v(16, 1.0f);
  save_safetensors_f32<float>(dir / "full.safetensors", {{"v", {16}, v.data()}});
  const std::string full = read_bytes(dir / "full.safetensors");
  write_bytes(dir / "cut_data.safetensors", full.substr(0, full.size() - 4));
  write_bytes(dir / "cut_header.safetensors", full.substr(0, 20));
  write_bytes(dir / "cut_prefix.safetensors", full.substr(0, 3));
  CHECK_THROWS_WITH(SafetensorsFile(dir / "cut_data.safetensors"),
                    Catch::Contains("cut_data.safetensors") && Catch::Contains("outside the data region"));
  CHECK_THROWS_WITH(SafetensorsFile(dir / "cut_header.safetensors"), Catch::Contains("exceeds the file size"));
  CHECK_THROWS_WITH(SafetensorsFile(dir / "cut_prefix.safetensors"), Catch::Contains("too short"));
  CHECK_THROWS_AS(SafetensorsFile(dir / "cut_data.safetensors"), CheckpointError);
}

TEST_CASE("MappedFile maps files and names the path when it cannot", "[io][mmap]") {
  const fs::path dir = scratch_dir("mapped");
  write_bytes(dir / "hello.bin", "hello");
  write_bytes(dir / "empty.bin", "");
  MappedFile hello(dir / "hello.bin");
  REQUIRE(hello.size() == 5);
  CHECK(std::string(reinterpret_cast<const char*>(hello.data()), 5) == "hello");
  const MappedFile empty(dir / "empty.bin");
  CHECK(empty.size() == 0);
  CHECK(empty.data() == nullptr);
  MappedFile moved(std::move(hello));
  CHECK(moved.size() == 5);
  CHECK(hello.size() == 0);
  CHECK_THROWS_WITH(MappedFile(dir / "nope.bin"), Catch::Contains("nope.bin") && Catch::Contains("file not found"));
  CHECK_THROWS_WITH(MappedFile(dir), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(SafetensorsFile(dir / "empty.bin"), Catch::Contains("too short"));
}

TEST_CASE("write_file_atomically replaces the target and leaves it alone when the writer fails", "[io][atomic]") {
  const fs::path dir = scratch_dir("atomic");
  const fs::path target = dir / "state.json";
  write_file_atomically(target, std::string_view("first"));
  CHECK(read_bytes(target) == "first");
  write_file_atomically(target, [](FileWriter& w) {
    w.write("sec");
    w.write("ond");
    CHECK(w.bytes_written() == 6);
  });
  CHECK(read_bytes(target) == "second");
  CHECK_THROWS_WITH(write_file_atomically(target, [](FileWriter& w) {
                      w.write("partial");
                      throw std::runtime_error("writer failed");
                    }),
                    "writer failed");
  CHECK(read_bytes(target) == "second");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);  // no temporary file left behind

  copy_file_atomically(target, dir / "copy.json");
  CHECK(read_bytes(dir / "copy.json") == "second");
  CHECK_THROWS_WITH(copy_file_atomically(dir / "missing.json", dir / "x.json"), Catch::Contains("file not found"));
  CHECK_THROWS_WITH(write_file_atomically(dir / "no_such_dir" / "f", std::string_view("x")),
                    Catch::Contains("cannot create a temporary file"));
}
