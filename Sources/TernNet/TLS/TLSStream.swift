import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

/// One connection's TLS: an OpenSSL `SSL` whose input and output are memory BIOs, so that every
/// socket call stays the channel's own non-blocking `read`/`write` on its loop — ciphertext in,
/// plaintext out, never a blocking call.
///
/// Reading: ciphertext read from the socket is written into the read BIO and `SSL_read` decrypts
/// from it; `SSL_ERROR_WANT_READ` means "read the socket again". Writing: plaintext is encrypted
/// with `SSL_write` into the write BIO (a memory BIO never pushes back, so `SSL_ERROR_WANT_WRITE`
/// cannot occur) and the ciphertext is written from a staging buffer, one `write` per batch.
///
/// Not thread-safe: it belongs to one ``SocketChannel`` on one loop.
final class TLSStream {
    /// Where the handshake stands after feeding it what the socket had.
    enum HandshakeProgress {
        case complete
        case inProgress
        case failed(NetError)
    }

    /// What one socket read gave.
    private enum Pull {
        case received
        case wouldBlock
        case endOfInput
        case failed(NetError)
    }

    /// Ciphertext read per `read(2)` (as much as a plaintext connection reads into its buffer).
    static let inputCapacity = 64 * 1024
    /// Ciphertext staged per `write(2)`; plaintext is encrypted in batches of about this size.
    static let outputCapacity = 128 * 1024
    /// The fatal `unexpected_message` alert sent to a client that speaks plaintext to a TLS
    /// listener: a Tern client reads its first bytes as a TLS record and reports that the broker
    /// expects TLS instead of waiting for a reply.
    static let plaintextRefusalAlert: [UInt8] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0A]

    let role: TLSContext.Role
    /// `host:port` of the peer, as messages name it.
    let peerName: String
    /// The context the connection was made from (kept alive with it).
    private let context: TLSContext
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let input: UnsafeMutableRawPointer
    private let output: UnsafeMutableRawPointer
    private var outputStart = 0
    private var outputEnd = 0
    /// File regions are read into this before encryption (allocated on first use).
    private var fileScratch: UnsafeMutableRawBufferPointer?
    private var receivedBytes = 0
    private var closeNotifySent = false

    private(set) var isHandshakeComplete = false
    /// The verified peer certificate's subject (RFC 2253), once the handshake is complete.
    private(set) var peerSubject: String?
    /// `write(2)` calls made for ciphertext (diagnostics and tests).
    private(set) var writeCalls = 0

    /// - Parameters:
    ///   - serverName: client only: the host connected to, sent as SNI (when it is a name) and
    ///     checked against the certificate when the configuration verifies host names.
    ///   - peerName: `host:port`, for messages.
    /// - Throws: `NetError` `.tlsConfiguration` when OpenSSL cannot make the connection's state.
    init(context: TLSContext, serverName: String?, peerName: String) throws(NetError) {
        OpenSSLError.clear()
        guard let ssl = SSL_new(context.context) else {
            throw NetError(.tlsConfiguration, "cannot create TLS state: \(OpenSSLError.drain())")
        }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw NetError(.tlsConfiguration, "cannot create TLS buffers: \(OpenSSLError.drain())")
        }
        // An empty read BIO means "no ciphertext yet" (retry), not end of input.
        _ = tern_bio_set_mem_eof_return(readBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL owns both BIOs from here
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        self.context = context
        self.role = context.role
        self.peerName = peerName
        self.input = .allocate(byteCount: Self.inputCapacity, alignment: 16)
        self.output = .allocate(byteCount: Self.outputCapacity, alignment: 16)
        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName { configureServerName(serverName) }
        }
    }

    deinit {
        SSL_free(ssl)
        input.deallocate()
        output.deallocate()
        fileScratch?.deallocate()
    }

    private func configureServerName(_ host: String) {
        let isAddress = Self.isIPAddress(host)
        // SNI carries host names only (RFC 6066).
        if !isAddress { _ = tern_ssl_set_tlsext_host_name(ssl, host) }
        guard context.configuration.verifyHostname && context.configuration.verifyCertificate else { return }
        _ = tern_ssl_set_hostflags_strict(ssl)
        if isAddress {
            _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            _ = SSL_set1_host(ssl, host)
        }
    }

    /// Ciphertext or plaintext buffered inside TLS that a read would return without the socket
    /// (`SSL_has_pending` counts records read ahead but not yet decrypted; `SSL_pending` does not).
    var hasBufferedInput: Bool {
        SSL_has_pending(ssl) != 0 || tern_bio_pending(readBIO) > 0
    }

    /// Ciphertext waiting to be written.
    var pendingOutputBytes: Int { outputEnd - outputStart + Int(tern_bio_pending(writeBIO)) }

    // MARK: Handshake

    /// Feeds the handshake everything the socket has until it completes, fails or waits for the
    /// peer. The caller writes what it produced (``flush(to:queue:)``) afterwards.
    func advanceHandshake(fd: Int32) -> HandshakeProgress {
        while true {
            OpenSSLError.clear()
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                isHandshakeComplete = true
                peerSubject = readPeerSubject()
                return .complete
            }
            let error = SSL_get_error(ssl, result)
            guard error == SSL_ERROR_WANT_READ else { return .failed(handshakeError(error)) }
            switch pull(fd) {
            case .received: continue
            case .wouldBlock: return .inProgress
            case .endOfInput: return .failed(endOfInputDuringHandshake())
            case .failed(let error): return .failed(error)
            }
        }
    }

    private func handshakeError(_ sslError: Int32) -> NetError {
        var reason = OpenSSLError.drain(fallback: "TLS error \(sslError)")
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
            reason += " (\(String(cString: text)))"
        }
        switch role {
        case .client:
            return NetError(.tlsHandshakeFailed, "TLS handshake with the broker at \(peerName) failed: \(reason)")
        case .server:
            return NetError(.tlsHandshakeFailed, "TLS handshake with \(peerName) failed: \(reason)")
        }
    }

    private func endOfInputDuringHandshake() -> NetError {
        switch role {
        case .client where receivedBytes == 0:
            return NetError(
                .tlsNotSpoken,
                "the broker at \(peerName) does not speak TLS: it closed the connection without answering the TLS handshake"
            )
        case .client:
            return NetError(
                .tlsHandshakeFailed,
                "TLS handshake with the broker at \(peerName) failed: the broker closed the connection")
        case .server where receivedBytes == 0:
            // A port probe (a load balancer's TCP check): nothing to complain about.
            return NetError(.closed, "\(peerName) closed the connection before the TLS handshake began")
        case .server:
            return NetError(
                .tlsHandshakeFailed,
                "TLS handshake with \(peerName) failed: the client closed the connection mid-handshake")
        }
    }

    /// One `read(2)` of ciphertext into the read BIO. The first bytes of a connection are checked
    /// for a TLS record: a peer that speaks plaintext is refused by name rather than by an
    /// OpenSSL parse error.
    private func pull(_ fd: Int32) -> Pull {
        switch Syscall.read(fd, into: input, count: Self.inputCapacity) {
        case .processed(0):
            return .endOfInput
        case .processed(let count):
            if receivedBytes == 0, let refusal = checkFirstByte(input.load(as: UInt8.self)) {
                return .failed(refusal)
            }
            receivedBytes += count
            // A memory BIO grows to take everything (it fails only when memory runs out).
            guard BIO_write(readBIO, input, Int32(count)) == Int32(count) else {
                return .failed(NetError(.tlsError, "cannot buffer TLS input from \(peerName): out of memory"))
            }
            return .received
        case .wouldBlock:
            return .wouldBlock
        case .failed(let error):
            return .failed(error)
        }
    }

    /// A TLS connection begins with a handshake record (22) from the client and a handshake or
    /// alert record (21) from the server.
    private func checkFirstByte(_ byte: UInt8) -> NetError? {
        switch role {
        case .server where byte != 0x16:
            stage(Self.plaintextRefusalAlert)
            return NetError(
                .tlsNotSpoken, "plaintext (not TLS) from \(peerName) on a TLS listener: the client does not use TLS")
        case .client where !(0x14...0x17).contains(byte):
            return NetError(
                .tlsNotSpoken,
                "the broker at \(peerName) does not speak TLS: it answered the TLS handshake with non-TLS bytes")
        default:
            return nil
        }
    }

    private func readPeerSubject() -> String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        guard SSL_get_verify_result(ssl) == X509_V_OK, let name = X509_get_subject_name(certificate),
            let bio = BIO_new(BIO_s_mem())
        else { return nil }
        defer { BIO_free(bio) }
        guard tern_x509_name_print_rfc2253(bio, name) >= 0 else { return nil }
        var data: UnsafeMutablePointer<CChar>?
        let length = tern_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The negotiated protocol version and cipher, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`.
    var negotiated: String {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        return "\(version) \(cipher)"
    }

    // MARK: Reading

    /// Decrypts into `buffer`, reading the socket when TLS needs more ciphertext: `.processed(0)`
    /// is the end of input (the peer's `close_notify` or its closing the socket).
    func read(fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> IOResult<Int> {
        let count = Int32(clamping: count)
        while true {
            OpenSSLError.clear()
            let result = SSL_read(ssl, buffer, count)
            if result > 0 { return .processed(Int(result)) }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ:
                switch pull(fd) {
                case .received: continue
                case .wouldBlock: return .wouldBlock
                case .endOfInput: return .processed(0)
                case .failed(let error): return .failed(error)
                }
            case SSL_ERROR_ZERO_RETURN:
                return .processed(0)
            default:
                var reason = OpenSSLError.drain(fallback: "TLS error \(error)")
                if reason.contains("certificate required") {
                    reason +=
                        " (the broker requires a client certificate: set ssl.certificate.location and ssl.key.location)"
                }
                return .failed(NetError(.tlsError, "TLS error on the connection with \(peerName): \(reason)"))
            }
        }
    }

    // MARK: Writing

    /// Writes ciphertext waiting in TLS, then encrypts and writes what `queue` holds (once the
    /// handshake is complete), until everything is written or the socket would block. Each
    /// `write` carries up to ``outputCapacity`` bytes of ciphertext, so a batch of small
    /// responses leaves in one call. File regions are read into memory first: `sendfile` cannot
    /// encrypt.
    func flush(to fd: Int32, queue: inout WriteQueue) -> WriteQueue.FlushOutcome {
        var written = 0
        while true {
            if outputStart == outputEnd {
                outputStart = 0
                outputEnd = 0
                let moved = BIO_read(writeBIO, output, Int32(Self.outputCapacity))
                if moved > 0 { outputEnd = Int(moved) }
            }
            if outputStart < outputEnd {
                writeCalls += 1
                switch Syscall.write(fd, output + outputStart, count: outputEnd - outputStart) {
                case .processed(let count):
                    outputStart += count
                    written += count
                    continue
                case .wouldBlock:
                    return .wouldBlock(written: written)
                case .failed(let error):
                    return .failed(error)
                }
            }
            guard isHandshakeComplete, !queue.isEmpty else { return .drained(written: written) }
            if let error = encrypt(from: &queue, limit: Self.outputCapacity - 1024) {
                return .failed(error)
            }
        }
    }

    /// Encrypts up to `limit` plaintext bytes from the front of `queue` into the write BIO.
    private func encrypt(from queue: inout WriteQueue, limit: Int) -> NetError? {
        let scratch: UnsafeMutableRawBufferPointer
        if let fileScratch {
            scratch = fileScratch
        } else {
            scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
            fileScratch = scratch
        }
        var failure: NetError?
        let readError = queue.takePlaintext(limit: limit, fileScratch: scratch) { bytes in
            OpenSSLError.clear()
            // Without SSL_MODE_ENABLE_PARTIAL_WRITE a write into a memory BIO takes all or fails.
            let result = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
            guard result == Int32(bytes.count) else {
                failure = NetError(.tlsError, "TLS encryption for \(peerName) failed: \(OpenSSLError.drain())")
                return false
            }
            return true
        }
        return failure ?? readError
    }

    /// Queues the `close_notify` alert (once); the next flush writes it.
    func shutdown() {
        guard isHandshakeComplete, !closeNotifySent else { return }
        closeNotifySent = true
        OpenSSLError.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLError.clear()
    }

    /// Writes what ciphertext is ready (an alert after a failed handshake) with one attempt,
    /// ignoring errors: the connection closes next.
    func flushBestEffort(fd: Int32) {
        var empty = WriteQueue()
        _ = flush(to: fd, queue: &empty)
    }

    /// Puts raw bytes in the output (the plaintext refusal alert, which no SSL state produces).
    private func stage(_ bytes: [UInt8]) {
        guard outputStart == outputEnd, bytes.count <= Self.outputCapacity else { return }
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            output.copyMemory(from: base, byteCount: raw.count)
        }
        outputStart = 0
        outputEnd = bytes.count
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var address4 = in_addr()
        var address6 = in6_addr()
        return inet_pton(AF_INET, host, &address4) == 1 || inet_pton(AF_INET6, host, &address6) == 1
    }
}
