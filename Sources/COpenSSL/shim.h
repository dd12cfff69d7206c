#ifndef TERN_COPENSSL_SHIM_H
#define TERN_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

// Function-like macros (and a callback Swift cannot type) that Swift cannot import.

static inline int tern_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int tern_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long tern_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline void tern_ssl_ctx_set_read_ahead(SSL_CTX *ctx) { SSL_CTX_set_read_ahead(ctx, 1); }

static inline long tern_bio_pending(BIO *bio) { return (long)BIO_ctrl_pending(bio); }

static inline long tern_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

static inline int tern_bio_set_mem_eof_return(BIO *bio, int value) { return (int)BIO_set_mem_eof_return(bio, value); }

static inline int tern_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return (int)SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline void tern_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { (void)SSL_CTX_set_mode(ctx, mode); }

/// No renegotiation (a denial-of-service lever and unneeded) and no TLS compression (CRIME).
static inline void tern_ssl_ctx_set_default_options(SSL_CTX *ctx) {
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

/// The password callback for an encrypted private key: `userdata` is a NUL-terminated password.
static inline int tern_password_callback(char *buffer, int size, int rwflag, void *userdata) {
    (void)rwflag;
    if (userdata == NULL) return 0;
    const char *password = (const char *)userdata;
    int length = 0;
    while (password[length] != '\0' && length < size) {
        buffer[length] = password[length];
        length++;
    }
    return length;
}

static inline void tern_ssl_ctx_use_password(SSL_CTX *ctx, const char *password) {
    SSL_CTX_set_default_passwd_cb(ctx, tern_password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)password);
}

static inline void tern_ssl_ctx_clear_password(SSL_CTX *ctx) {
    SSL_CTX_set_default_passwd_cb(ctx, NULL);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
}

/// Whether the first error on the queue is "bad decrypt" (a wrong key password) or its PEM variant.
static inline int tern_err_is_bad_password(unsigned long error) {
    int reason = ERR_GET_REASON(error);
    return reason == PEM_R_BAD_DECRYPT || reason == PEM_R_BAD_PASSWORD_READ || reason == EVP_R_BAD_DECRYPT;
}

static inline int tern_err_get_reason(unsigned long error) { return ERR_GET_REASON(error); }

/// Prints `name` in RFC 2253 form (`CN=client,O=Example`), the form Kafka's principals use.
static inline int tern_x509_name_print_rfc2253(BIO *bio, X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
}

static inline int tern_ssl_set_hostflags_strict(SSL *ssl) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return 1;
}
#endif
