// The crypto floors devpki-mint is measured against (bench/mint_bench.sh):
// the operations no device-identity minting can skip, with every context
// reused, and nothing else (no encoding, no store, no I/O).
//
//   floor keygen+sign      P-256 key generation + one ECDSA-SHA256 signature
//                          over a ~300-byte TBS (keygen and sign timed apart,
//                          rate = N / (t_keygen + t_sign))
//   floor keygen+sign x2   the same on two threads, each with its own
//                          contexts and CA key (rate = 2N / wall time)
//   floor csr-verify+sign  X509_REQ_verify of an already parsed P-256 CSR +
//                          one ECDSA-SHA256 signature (the CSR-mode floor)
//
// Usage:
//   floor [N]                          print the floors (default N 20000), one
//                                      "floor <what> <rate>/s" line each
//   floor --gen-csrs N FILE [PREFIX]   write N P-256 CSRs as JSONL lines
//                                      {"device_id":"DEV-000001","csr":"<PEM>"}
//                                      (PREFIX default "DEV-"; CN = device id)
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "floor: %s failed\n", what);
  std::exit(1);
}

EVP_PKEY_CTX* p256_keygen_ctx() {
  EVP_PKEY_CTX* kc = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (kc == nullptr || EVP_PKEY_keygen_init(kc) <= 0 ||
      EVP_PKEY_CTX_set_group_name(kc, "P-256") <= 0)
    die("P-256 keygen context");
  return kc;
}

EVP_PKEY* p256_key(EVP_PKEY_CTX* kc) {
  EVP_PKEY* k = nullptr;
  if (EVP_PKEY_keygen(kc, &k) <= 0) die("EVP_PKEY_keygen");
  return k;
}

// One ECDSA-SHA256 signature over `tbs`, the context reused.
void sign_once(EVP_MD_CTX* mc, EVP_PKEY* ca, const unsigned char* tbs, std::size_t len) {
  unsigned char sig[128];
  std::size_t sl = sizeof sig;
  if (EVP_DigestSignInit_ex(mc, nullptr, "SHA256", nullptr, nullptr, ca, nullptr) <= 0 ||
      EVP_DigestSign(mc, sig, &sl, tbs, len) <= 0)
    die("EVP_DigestSign");
}

struct KeygenSign {
  double keygen_s = 0;
  double sign_s = 0;
};

// crypto_floor's method: N keygens, then N signatures, each timed apart.
KeygenSign keygen_sign(int n) {
  EVP_PKEY_CTX* kc = p256_keygen_ctx();
  EVP_PKEY* ca = p256_key(kc);
  unsigned char tbs[300] = {1};
  KeygenSign r;
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i)
    EVP_PKEY_free(p256_key(kc));
  r.keygen_s = seconds_since(t0);
  EVP_MD_CTX* mc = EVP_MD_CTX_new();
  if (mc == nullptr) die("EVP_MD_CTX_new");
  t0 = clk::now();
  for (int i = 0; i < n; ++i)
    sign_once(mc, ca, tbs, sizeof tbs);
  r.sign_s = seconds_since(t0);
  EVP_MD_CTX_free(mc);
  EVP_PKEY_free(ca);
  EVP_PKEY_CTX_free(kc);
  return r;
}

X509_REQ* make_csr(EVP_PKEY* key, const std::string& cn) {
  X509_REQ* req = X509_REQ_new();
  if (req == nullptr || X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
      X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_REQ_sign(req, key, EVP_sha256()) <= 0)
    die("building a CSR");
  return req;
}

// X509_REQ_verify on CSRs parsed beforehand (a pool of distinct ones, so no
// cache can help) + one signature per CSR.
double csr_verify_sign_rate(int n) {
  EVP_PKEY_CTX* kc = p256_keygen_ctx();
  EVP_PKEY* ca = p256_key(kc);
  const int pool = n < 1000 ? n : 1000;
  std::vector<X509_REQ*> reqs;
  reqs.reserve(static_cast<std::size_t>(pool));
  for (int i = 0; i < pool; ++i) {
    EVP_PKEY* k = p256_key(kc);
    X509_REQ* built = make_csr(k, "device-" + std::to_string(i));
    unsigned char* der = nullptr;
    const int len = i2d_X509_REQ(built, &der);
    if (len <= 0) die("i2d_X509_REQ");
    const unsigned char* p = der;
    X509_REQ* parsed = d2i_X509_REQ(nullptr, &p, len);
    if (parsed == nullptr || X509_REQ_get0_pubkey(parsed) == nullptr) die("d2i_X509_REQ");
    reqs.push_back(parsed);
    OPENSSL_free(der);
    X509_REQ_free(built);
    EVP_PKEY_free(k);
  }
  unsigned char tbs[300] = {1};
  EVP_MD_CTX* mc = EVP_MD_CTX_new();
  if (mc == nullptr) die("EVP_MD_CTX_new");
  const auto t0 = clk::now();
  for (int i = 0; i < n; ++i) {
    X509_REQ* req = reqs[static_cast<std::size_t>(i % pool)];
    if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) die("X509_REQ_verify");
    sign_once(mc, ca, tbs, sizeof tbs);
  }
  const double s = seconds_since(t0);
  EVP_MD_CTX_free(mc);
  for (X509_REQ* r : reqs)
    X509_REQ_free(r);
  EVP_PKEY_free(ca);
  EVP_PKEY_CTX_free(kc);
  return n / s;
}

int print_floors(int n) {
  const KeygenSign one = keygen_sign(n);
  std::printf("floor keygen %.0f/s\n", n / one.keygen_s);
  std::printf("floor sign %.0f/s\n", n / one.sign_s);
  std::printf("floor keygen+sign %.0f/s\n", n / (one.keygen_s + one.sign_s));
  std::fflush(stdout);

  const auto t0 = clk::now();
  std::thread a([n] { keygen_sign(n); });
  std::thread b([n] { keygen_sign(n); });
  a.join();
  b.join();
  std::printf("floor keygen+sign x2 %.0f/s\n", 2.0 * n / seconds_since(t0));
  std::fflush(stdout);

  std::printf("floor csr-verify+sign %.0f/s\n", csr_verify_sign_rate(n));
  return 0;
}

int gen_csrs(long n, const char* file, const std::string& prefix) {
  std::FILE* out = std::fopen(file, "w");
  if (out == nullptr) {
    std::perror(file);
    return 1;
  }
  EVP_PKEY_CTX* kc = p256_keygen_ctx();
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) die("BIO_new");
  std::string line;
  for (long i = 1; i <= n; ++i) {
    char seq[32];
    std::snprintf(seq, sizeof seq, "%06ld", i);
    const std::string id = prefix + seq;
    EVP_PKEY* k = p256_key(kc);
    X509_REQ* req = make_csr(k, id);
    if (PEM_write_bio_X509_REQ(mem, req) != 1) die("PEM_write_bio_X509_REQ");
    BUF_MEM* pem = nullptr;
    BIO_get_mem_ptr(mem, &pem);
    line = "{\"device_id\":\"" + id + "\",\"csr\":\"";
    for (std::size_t j = 0; j < pem->length; ++j) {
      if (pem->data[j] == '\n')
        line += "\\n";
      else
        line += pem->data[j];
    }
    line += "\"}\n";
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) die("writing the file");
    (void)BIO_reset(mem);
    X509_REQ_free(req);
    EVP_PKEY_free(k);
  }
  BIO_free(mem);
  EVP_PKEY_CTX_free(kc);
  if (std::fclose(out) != 0) die("closing the file");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "--gen-csrs") == 0) {
    const long n = std::atol(argv[2]);
    if (n <= 0) {
      std::fprintf(stderr, "floor: --gen-csrs N must be positive\n");
      return 2;
    }
    return gen_csrs(n, argv[3], argc > 4 ? argv[4] : "DEV-");
  }
  if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
    std::fprintf(stderr, "usage: floor [N]\n       floor --gen-csrs N FILE.jsonl [PREFIX]\n");
    return 2;
  }
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  if (n <= 0) {
    std::fprintf(stderr, "floor: N must be positive\n");
    return 2;
  }
  return print_floors(n);
}
