// The onboarding label rendered with libqrencode: PNG (libpng), SVG and text.
// See pki/onboarding.hpp.
#include <png.h>
#include <qrencode.h>

#include <cerrno>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "pki/error.hpp"
#include "pki/onboarding.hpp"

namespace pki {

namespace {

constexpr int kQuietZone = 4;        // modules of light margin on every side
constexpr int kPixelsPerModule = 8;  // PNG pixels and SVG units per module

struct QrFree {
  void operator()(QRcode* q) const noexcept { QRcode_free(q); }
};
using QrPtr = std::unique_ptr<QRcode, QrFree>;

// The symbol with its quiet zone: size x size modules, true = dark.
class Matrix {
 public:
  explicit Matrix(const QRcode& q) : m_size(q.width + 2 * kQuietZone) {
    m_dark.assign(static_cast<std::size_t>(m_size) * static_cast<std::size_t>(m_size), false);
    for (int y = 0; y < q.width; ++y) {
      for (int x = 0; x < q.width; ++x) {
        const unsigned char m = q.data[static_cast<std::size_t>(y) * q.width + x];
        m_dark[index(x + kQuietZone, y + kQuietZone)] = (m & 1) != 0;
      }
    }
  }
  int size() const noexcept { return m_size; }
  // Outside the matrix is light (more quiet zone).
  bool dark(int x, int y) const noexcept {
    if (x < 0 || y < 0 || x >= m_size || y >= m_size) return false;
    return m_dark[index(x, y)];
  }

 private:
  std::size_t index(int x, int y) const noexcept {
    return static_cast<std::size_t>(y) * static_cast<std::size_t>(m_size) +
           static_cast<std::size_t>(x);
  }
  int m_size;
  std::vector<bool> m_dark;
};

Matrix encode(const std::string& payload) {
  if (payload.empty()) throw Error(ErrorCode::invalid_input, "the payload is empty");
  if (payload.find('\0') != std::string::npos) {
    throw Error(ErrorCode::invalid_input, "the payload contains a NUL byte");
  }
  errno = 0;
  QrPtr q(QRcode_encodeString(payload.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!q) {
    if (errno == ENOMEM) throw Error(ErrorCode::internal, "libqrencode: out of memory");
    throw Error(ErrorCode::invalid_input, "the payload (" + std::to_string(payload.size()) +
                                              " bytes) does not fit a QR code");
  }
  return Matrix(*q);
}

// ---- PNG ----------------------------------------------------------------------------------
//
// libpng reports errors by longjmp. Everything between setjmp and the end of
// write_png_gray is C: plain pointers and POD only, so a longjmp skips no
// destructor. The output grows in a malloc'd buffer that the C++ caller
// copies and frees.

struct PngOut {
  unsigned char* data;
  std::size_t size;
  std::size_t capacity;
  char error[256];
};

void png_write_cb(png_structp png, png_bytep bytes, png_size_t length) {
  auto* out = static_cast<PngOut*>(png_get_io_ptr(png));
  if (out->size + length > out->capacity) {
    std::size_t cap = out->capacity == 0 ? 4096 : out->capacity;
    while (cap < out->size + length)
      cap *= 2;
    void* grown = std::realloc(out->data, cap);
    if (grown == nullptr) png_error(png, "out of memory");
    out->data = static_cast<unsigned char*>(grown);
    out->capacity = cap;
  }
  std::memcpy(out->data + out->size, bytes, length);
  out->size += length;
}

void png_flush_cb(png_structp /*png*/) {}

void png_error_cb(png_structp png, png_const_charp message) {
  auto* out = static_cast<PngOut*>(png_get_error_ptr(png));
  std::strncpy(out->error, message != nullptr ? message : "unknown error", sizeof out->error - 1);
  out->error[sizeof out->error - 1] = '\0';
  png_longjmp(png, 1);
}

void png_warning_cb(png_structp /*png*/, png_const_charp /*message*/) {}

// Writes a width x height 1-bit grayscale image (rows of width / 8 bytes,
// the most significant bit first, 1 = white) into `out`. Returns false with
// out->error set on failure.
bool write_png_gray(const unsigned char* rows, png_uint_32 width, png_uint_32 height, PngOut* out) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, out, png_error_cb, png_warning_cb);
  if (png == nullptr) {
    std::strcpy(out->error, "cannot create the write structure");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::strcpy(out->error, "cannot create the info structure");
    return false;
  }
  // png and info are not modified after setjmp, so they keep their values
  // after a longjmp.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, png_write_cb, png_flush_cb);
  png_set_IHDR(png, info, width, height, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (png_uint_32 y = 0; y < height; ++y)
    png_write_row(png, rows + std::size_t{y} * (width / 8));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

// 1 bit per pixel: with 8 pixels per module, a module is one byte of a row
// (0x00 dark, 0xff light). An 8-bit image was 8 times the data for zlib to
// compress: rendering took 4.8 ms a label instead of 1.
static_assert(kPixelsPerModule == 8, "render_png packs one module per byte");
std::string render_png(const Matrix& m) {
  const int side = m.size() * kPixelsPerModule;
  const auto row_bytes = static_cast<std::size_t>(m.size());
  std::vector<unsigned char> rows(row_bytes * static_cast<std::size_t>(side));
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < m.size(); ++x) {
      rows[static_cast<std::size_t>(y) * row_bytes + static_cast<std::size_t>(x)] =
          m.dark(x, y / kPixelsPerModule) ? 0x00 : 0xff;
    }
  }
  PngOut out{};
  const bool ok = write_png_gray(rows.data(), static_cast<png_uint_32>(side),
                                 static_cast<png_uint_32>(side), &out);
  std::string png;
  if (ok) png.assign(reinterpret_cast<const char*>(out.data), out.size);
  std::free(out.data);
  if (!ok) throw Error(ErrorCode::internal, std::string("libpng: ") + out.error);
  return png;
}

// ---- SVG ----------------------------------------------------------------------------------

// Text for XML character data and attribute values: the five special
// characters escaped and control characters (not allowed in XML 1.0)
// replaced by U+FFFD.
std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string render_svg(const Matrix& m, const QrLabel& label) {
  constexpr int kLineHeight = 24;
  constexpr int kFontSize = 20;
  const int side = m.size() * kPixelsPerModule;
  int lines = 0;
  if (!label.caption.empty()) ++lines;
  if (!label.manual_code.empty()) ++lines;
  const int height = side + (lines > 0 ? lines * kLineHeight + kPixelsPerModule : 0);
  const std::string w = std::to_string(side);
  const std::string h = std::to_string(height);

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"";
  svg += w;
  svg += "\" height=\"";
  svg += h;
  svg += "\" viewBox=\"0 0 ";
  svg += w;
  svg += ' ';
  svg += h;
  svg += "\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"";
  svg += w;
  svg += "\" height=\"";
  svg += h;
  svg += "\" fill=\"#ffffff\"/>\n";

  // The dark modules as one path: each horizontal run of dark modules in a
  // row is one rectangle "M x y h<run> v8 h-<run> z".
  svg += "<path fill=\"#000000\" shape-rendering=\"crispEdges\" d=\"";
  bool first = true;
  for (int y = 0; y < m.size(); ++y) {
    int x = 0;
    while (x < m.size()) {
      if (!m.dark(x, y)) {
        ++x;
        continue;
      }
      const int start = x;
      while (x < m.size() && m.dark(x, y))
        ++x;
      const std::string run = std::to_string((x - start) * kPixelsPerModule);
      if (!first) svg += ' ';
      first = false;
      svg += 'M';
      svg += std::to_string(start * kPixelsPerModule);
      svg += ' ';
      svg += std::to_string(y * kPixelsPerModule);
      svg += 'h';
      svg += run;
      svg += "v";
      svg += std::to_string(kPixelsPerModule);
      svg += "h-";
      svg += run;
      svg += 'z';
    }
  }
  svg += "\"/>\n";

  int baseline = side;
  auto text_line = [&](const std::string& content) {
    baseline += kLineHeight;
    svg += "<text x=\"";
    svg += std::to_string(side / 2);
    svg += "\" y=\"";
    svg += std::to_string(baseline);
    svg += "\" text-anchor=\"middle\" font-family=\"monospace\" font-size=\"";
    svg += std::to_string(kFontSize);
    svg += "\" fill=\"#000000\">";
    svg += xml_escape(content);
    svg += "</text>\n";
  };
  if (!label.caption.empty()) text_line(label.caption);
  if (!label.manual_code.empty()) text_line(label.manual_code);
  svg += "</svg>\n";
  return svg;
}

// ---- text ---------------------------------------------------------------------------------

// Two module rows per character row with the half blocks U+2580 (upper),
// U+2584 (lower), U+2588 (full) and space. A terminal usually shows light
// text on a dark background, so the blocks draw the LIGHT modules and the
// dark modules are left as the (dark) background: the printed code then has
// the right polarity on a dark terminal (on a light terminal it is inverted,
// which many scanners do not read; use PNG or SVG there). The quiet zone is
// drawn too; an odd last row is padded with light modules.
std::string render_text(const Matrix& m, const QrLabel& label) {
  std::string out = printable(label.payload);
  out += '\n';
  if (!label.manual_code.empty()) {
    out += "manual code: ";
    out += printable(label.manual_code);
    out += '\n';
  }
  for (int y = 0; y < m.size(); y += 2) {
    for (int x = 0; x < m.size(); ++x) {
      const bool top = !m.dark(x, y);
      const bool bottom = !m.dark(x, y + 1);  // past the last row: light
      if (top && bottom) {
        out += "\u2588";
      } else if (top) {
        out += "\u2580";
      } else if (bottom) {
        out += "\u2584";
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  if (!label.caption.empty()) {
    out += printable(label.caption);
    out += '\n';
  }
  return out;
}

}  // namespace

std::string render_label(const QrLabel& label, QrFormat format) {
  const Matrix m = encode(label.payload);
  switch (format) {
    case QrFormat::png:
      return render_png(m);
    case QrFormat::svg:
      return render_svg(m, label);
    case QrFormat::text:
      return render_text(m, label);
  }
  throw Error(ErrorCode::internal, "unknown QR format");
}

}  // namespace pki
