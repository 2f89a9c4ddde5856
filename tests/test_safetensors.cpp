#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/file_io.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using gpt2::SafetensorsFile;

namespace {
// A file assembled by hand from the format's definition (independent of SafetensorsWriter).
std::string make_file(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
  return std::string(reinterpret_cast<const char*>(std::data(v)), v.size() * 4);
}

std::string error_of(const std::string& bytes) {
  try {
    SafetensorsFile::parse(bytes, "broken.safetensors");
  } catch (const gpt2::Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("safetensors: a hand-made file parses", "[safetensors]") {
  std::string h = R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},)"
                  R"("a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  auto f = SafetensorsFile::parse(make_file(h, floats({1, 2, 3, 4, 5})), "hand.safetensors");
  CHECK(f.names() == std::vector<std::string>{"a", "b"});
  CHECK(f.get_vector("a") == std::vector<float>{1, 2, 3});
  CHECK(f.get_vector("b") == std::vector<float>{4, 5});
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.get("a").shape() == gpt2::Shape{3});
  CHECK_THROWS_WITH(f.get("c"), "hand.safetensors: no tensor named 'c'");
  std::vector<float> out(3);
  CHECK_THROWS_WITH(f.read_into("a", {1, 3}, out),
                    "hand.safetensors: tensor 'a' has shape [3], expected [1, 3]");
}

TEST_CASE("safetensors: F16, BF16, F64 and integers decode as PyTorch does", "[safetensors][parity]") {
  auto f = SafetensorsFile::open(gpt2::fixture_dir() + "/common_dtypes.safetensors");
  for (const char* name : {"f32", "f16", "bf16", "f64"}) {
    INFO(name);
    std::vector<float> ours = f.get_vector(name);
    std::vector<float> ref = f.get_vector(std::string(name) + "_as_f32");
    REQUIRE(ours.size() == ref.size());
    for (size_t i = 0; i < ours.size(); ++i) CHECK(std::memcmp(&ours[i], &ref[i], 4) == 0);
  }
  CHECK(f.get_int("ids") == std::vector<int64_t>{1, -2, 3, 50256, 0, 7});
  CHECK(f.get_int("ids32") == std::vector<int64_t>{5, 6});
  CHECK_THROWS_AS(f.get_int("f32"), gpt2::Error);
  CHECK_THROWS_AS(f.get("ids"), gpt2::Error);
}

TEST_CASE("safetensors: float_to_f16 rounds like IEEE (numpy's values)", "[safetensors]") {
  CHECK(gpt2::float_to_f16(1.0f) == 0x3c00);
  CHECK(gpt2::float_to_f16(-2.5f) == 0xc100);
  CHECK(gpt2::float_to_f16(65504.0f) == 0x7bff);
  CHECK(gpt2::float_to_f16(1e-7f) == 0x0002);
  CHECK(gpt2::float_to_f16(6.1e-5f) == 0x03ff);
  CHECK(gpt2::float_to_f16(0.1f) == 0x2e66);
  CHECK(gpt2::float_to_f16(3.14159f) == 0x4248);
  CHECK(gpt2::float_to_f16(70000.0f) == 0x7c00);
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // every finite half survives the round trip
    REQUIRE(gpt2::float_to_f16(gpt2::f16_to_float(static_cast<uint16_t>(h))) == h);
  }
}

TEST_CASE("safetensors: writer output reads back, F16 included", "[safetensors]") {
  gpt2::SafetensorsWriter w;
  w.add("x", {2, 2}, std::vector<float>{1.0f, -2.0f, 0.5f, 1024.0f});
  w.add("h", {3}, std::vector<float>{0.1f, 2.0f, -3.0f}, gpt2::DType::F16);
  w.add_int64("ids", {2}, std::vector<int64_t>{50256, 1});
  w.set_metadata("format", "pt");
  fs::path p = gpt2::test_temp_dir("writer") / "writer.safetensors";
  w.write(p);
  auto f = SafetensorsFile::open(p);
  CHECK(f.get_vector("x") == std::vector<float>{1.0f, -2.0f, 0.5f, 1024.0f});
  CHECK(f.info("h").dtype == gpt2::DType::F16);
  CHECK(f.get_vector("h") == std::vector<float>{gpt2::f16_to_float(0x2e66), 2.0f, -3.0f});
  CHECK(f.get_int("ids") == std::vector<int64_t>{50256, 1});
  CHECK(f.metadata().at("format") == "pt");
  uint64_t n;
  std::string bytes = w.serialize();
  std::memcpy(&n, bytes.data(), 8);
  CHECK((8 + n) % 8 == 0);
  CHECK(gpt2::read_file(p) == bytes);  // write() streams the pieces serialize() joins
}

TEST_CASE("safetensors: a tensor added as a view is written from where it is", "[safetensors]") {
  const std::vector<float> big(100000, 0.25f), small{1.0f, -0.0f, 3.5f};
  gpt2::SafetensorsWriter w;
  w.add_view("big", {100, 1000}, big);
  w.add("copied", {3}, small);
  w.add_view("small", {3}, small);
  CHECK_THROWS_WITH(w.add_view("wrong", {2, 2}, small), Catch::Contains("has 3 values for shape"));
  fs::path p = gpt2::test_temp_dir("writer") / "views.safetensors";
  w.write(p);
  auto f = SafetensorsFile::open(p);
  CHECK(f.names() == std::vector<std::string>{"big", "copied", "small"});
  CHECK(f.get_vector("big") == big);
  CHECK(f.get_vector("small") == small);
  CHECK(std::signbit(f.get_vector("small")[1]));
  CHECK(gpt2::read_file(p) == w.serialize());
}

TEST_CASE("safetensors: I8 and BF16 tensors, written and read back", "[safetensors]") {
  // By hand: an I8 tensor is its bytes; BF16 is each float's upper 16 bits, rounded to nearest even
  // (1 + 2^-8 is halfway between 1 and 1 + 2^-7 and goes to the even one, 1; 0x3F81 is 1 + 2^-7).
  std::string h = R"({"q":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},)"
                  R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[3,7]}})";
  auto f =
      SafetensorsFile::parse(make_file(h, std::string("\x81\x00\x7f\x81\x3f\x80\x3f", 7)), "i8.safetensors");
  CHECK(f.get_int8("q") == std::vector<int8_t>{-127, 0, 127});
  CHECK(f.get_vector("b") == std::vector<float>{1.0f + 1.0f / 128, 1.0f});
  CHECK_THROWS_WITH(f.get_int8("b"),
                    Catch::Contains("i8.safetensors: tensor 'b' has dtype BF16, expected I8"));
  CHECK_THROWS_WITH(f.get("q"), Catch::Contains("has dtype I8, expected a float type"));

  gpt2::SafetensorsWriter w;
  w.add_int8("q", {3}, std::vector<int8_t>{-127, 0, 127});
  w.add("b", {3}, std::vector<float>{1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f}, gpt2::DType::BF16);
  w.set_metadata("gpt2_weights", "q8");
  const fs::path p = gpt2::test_temp_dir("i8") / "i8.safetensors";
  w.write(p);
  auto g = SafetensorsFile::open(p);
  CHECK(g.get_int8("q") == std::vector<int8_t>{-127, 0, 127});
  CHECK(g.info("b").dtype == gpt2::DType::BF16);
  CHECK(g.get_vector("b") == std::vector<float>{1.0f, 1.0f + 1.0f / 64, -2.5f});
  // The metadata alone, from the header.
  CHECK(gpt2::read_safetensors_metadata(p) == std::map<std::string, std::string>{{"gpt2_weights", "q8"}});
  const fs::path dir = gpt2::test_temp_dir("metadata");
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::FILE* out = std::fopen((dir / name).c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fclose(out);
    return dir / name;
  };
  CHECK(gpt2::read_safetensors_metadata(
            write("plain.safetensors",
                  make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({1}))))
            .empty());
  CHECK_THROWS_WITH(gpt2::read_safetensors_metadata(write("bad.safetensors", make_file("{not json", ""))),
                    Catch::Contains("bad.safetensors: the header is not valid JSON"));
  CHECK_THROWS_WITH(
      gpt2::read_safetensors_metadata(write("short.safetensors", std::string("\xff\0\0\0\0\0\0\0{}", 10))),
      Catch::Contains("short.safetensors: header length 255 runs past the end of the file"));
}

TEST_CASE("safetensors: BOOL and U8 tensors parse but do not convert to float", "[safetensors]") {
  std::string h = R"({"mask":{"dtype":"BOOL","shape":[2,2],"data_offsets":[0,4]},)"
                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  auto f = SafetensorsFile::parse(make_file(h, std::string("\x01\x00\x01\x01", 4) + floats({7})),
                                  "mask.safetensors");
  CHECK(f.info("mask").dtype == gpt2::DType::BOOL);
  CHECK(f.get_vector("a") == std::vector<float>{7});
  CHECK_THROWS_WITH(f.get("mask"), Catch::Contains("has dtype BOOL, expected a float type"));
}

TEST_CASE("safetensors: broken files give one clear error each", "[safetensors]") {
  std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string good = make_file(good_header, floats({1, 2}));
  CHECK(error_of(good) == "no error");
  CHECK(error_of("abc").find("shorter than the 8-byte header length") != std::string::npos);
  CHECK(error_of(make_file(good_header, floats({1}))).find("outside the data") != std::string::npos);
  CHECK(error_of(good.substr(0, 20)).find("header length 54 runs past the end") != std::string::npos);
  CHECK(error_of(make_file("{not json", "")).find("not valid JSON") != std::string::npos);
  CHECK(error_of(make_file(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", floats({1, 2})))
            .find("unsupported dtype 'Q7'") != std::string::npos);
  CHECK(error_of(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})))
            .find("shape [3] of F32 needs 12") != std::string::npos);
  CHECK(error_of(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", floats({1, 2})))
            .find("not a non-negative integer") != std::string::npos);
  CHECK(error_of(make_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", floats({1, 2})))
            .find("lacks dtype") != std::string::npos);
  CHECK(error_of(make_file("[1,2]", "")).find("not a JSON object") != std::string::npos);
  CHECK(error_of(good).find("broken.safetensors") == std::string::npos);
  CHECK(error_of("abc").rfind("broken.safetensors: ", 0) == 0);
}

TEST_CASE("safetensors: an element count that overflows 64 bits is rejected, not wrapped", "[safetensors]") {
  // 2^32 * 2^32 = 2^64 wraps to 0 in uint64 arithmetic, which would match the 0 bytes of [0, 0].
  const std::string e = error_of(
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""));
  CHECK(e.find("tensor 'a'") != std::string::npos);
  CHECK(e.find("too many elements") != std::string::npos);
  // The same with a zero at the end (an empty tensor in any numpy, but its partial products overflow).
  CHECK(error_of(make_file(R"({"a":{"dtype":"F32","shape":[1099511627775,1099511627775,0],)"
                           R"("data_offsets":[0,0]}})",
                           ""))
            .find("too many elements") != std::string::npos);
  // An empty tensor with a modest shape is fine.
  CHECK(error_of(make_file(R"({"a":{"dtype":"F32","shape":[0,7],"data_offsets":[0,0]}})", "")) == "no error");
}

TEST_CASE("safetensors: data_offsets must tile the data: no overlap, no alias, no gap, no tail",
          "[safetensors]") {
  // The format requires the tensors, sorted by offset, to cover the data section exactly.
  auto with = [](const std::string& a_offsets, const std::string& b_offsets, const std::string& data) {
    return error_of(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a_offsets +
                                  R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":)" + b_offsets + "}}",
                              data));
  };
  const std::string d16 = floats({1, 2, 3, 4}), d12 = floats({1, 2, 3}), d20 = floats({1, 2, 3, 4, 5});
  CHECK(with("[0,8]", "[8,16]", d16) == "no error");
  CHECK(with("[8,16]", "[0,8]", d16) == "no error");  // the header's order does not matter
  const std::string aliased = with("[0,8]", "[0,8]", floats({1, 2}));
  CHECK(aliased.find("overlap") != std::string::npos);
  CHECK(aliased.find("'a'") != std::string::npos);
  CHECK(aliased.find("'b'") != std::string::npos);
  CHECK(with("[0,8]", "[4,12]", d12).find("overlap") != std::string::npos);
  CHECK(with("[0,8]", "[12,20]", d20).find("gap of 4 bytes") != std::string::npos);
  CHECK(with("[4,12]", "[12,20]", d20).find("gap of 4 bytes") != std::string::npos);
  CHECK(with("[0,8]", "[8,16]", d20).find("4 bytes after the last tensor") != std::string::npos);
  // An empty tensor takes no room: it may begin where another tensor begins.
  CHECK(error_of(make_file(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                           R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                           floats({1, 2}))) == "no error");
}

// Found by fuzz/fuzz_safetensors: a header "{}" followed by NUL bytes and garbage was read as "{}"
// (nlohmann's parser stops at a NUL), and the writer wrote a file without tensors as "null".
TEST_CASE("safetensors: a NUL byte in the header is refused; a file without tensors writes and reads back",
          "[safetensors]") {
  CHECK(error_of(make_file(std::string("{}\0\0\0\0\0\0{488888", 16), "")).find("NUL byte") !=
        std::string::npos);
  CHECK(error_of(
            make_file(std::string("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\0", 56),
                      floats({1})))
            .find("NUL byte") != std::string::npos);
  CHECK(error_of(make_file("{}      ", "")) == "no error");  // space padding is what the format allows
  gpt2::SafetensorsWriter empty;
  CHECK(SafetensorsFile::parse(empty.serialize(), "empty.safetensors").names().empty());
}
