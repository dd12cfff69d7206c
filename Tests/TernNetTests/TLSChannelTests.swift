import Foundation
import Glibc
import Logging
import TernTestSupport
import XCTest

@testable import TernNet

/// TLS over memory BIOs on the connection loops: real sockets on loopback, certificates made by
/// the `openssl` command.
final class TLSChannelTests: XCTestCase {
    nonisolated(unsafe) static var shared: TestCertificates?
    var certificates: TestCertificates!

    override func setUpWithError() throws {
        if Self.shared == nil { Self.shared = try TestCertificates() }
        certificates = Self.shared
    }

    override class func tearDown() {
        shared?.directory.remove()
        shared = nil
    }

    private func serverContext(
        _ identity: TestCertificates.Identity? = nil, clientAuth: TLSConfiguration.ClientAuthentication = .none
    ) throws -> TLSContextHolder {
        let identity = identity ?? certificates.server
        var configuration = TLSConfiguration(
            certificateChainPath: identity.certificate, privateKeyPath: identity.key, caPath: certificates.ca)
        configuration.clientAuthentication = clientAuth
        return TLSContextHolder(try TLSContext(configuration, role: .server))
    }

    private func clientContext(
        ca: String? = nil, identity: TestCertificates.Identity? = nil, verifyHostname: Bool = true
    ) throws -> TLSContext {
        var configuration = TLSConfiguration(
            certificateChainPath: identity?.certificate, privateKeyPath: identity?.key, caPath: ca ?? certificates.ca)
        configuration.verifyHostname = verifyHostname
        return try TLSContext(configuration, role: .client)
    }

    private func startTLSServer(
        handler: any ServerConnectionHandler, holder: TLSContextHolder, logger: Logger? = nil
    ) throws -> Server {
        try startServer(handler: handler, logger: logger ?? Self.silent) { $0.tls = holder }
    }

    static let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func testFramesRoundTripOverTLSInOrderIncludingOneLargerThanARecord() throws {
        let handler = EchoHandler()
        let server = try startTLSServer(handler: handler, holder: try serverContext())
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
        defer { client.connection.close() }

        var sent: [[UInt8]] = (0..<500).map { indexedPayload($0) }
        sent.append((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        client.connection.send(sent.map(framed))
        let frames = try XCTUnwrap(client.waitForFrames(sent.count), "echoes did not all arrive")
        XCTAssertEqual(frames, sent)
        let connection = try XCTUnwrap(handler.lastConnection.value)
        XCTAssertTrue(connection.isTLS)
        XCTAssertNil(connection.peerCertificateSubject, "no client certificate was asked for")
    }

    func testRepliesReadyAfterOneReadEventLeaveInOneEncryptedWrite() throws {
        let handler = EchoHandler()
        let server = try startTLSServer(handler: handler, holder: try serverContext())
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
        defer { client.connection.close() }
        let count = 1_000
        // One send: the frames reach the broker in a few TLS records and read events.
        client.connection.send((0..<count).map { framed(indexedPayload($0, extra: $0 % 7)) })
        let frames = try XCTUnwrap(client.waitForFrames(count))
        XCTAssertEqual(frames.map { index(of: $0) }, Array(0..<count))
        let connection = try XCTUnwrap(handler.lastConnection.value)
        let statistics = connection.channel.loop.queue.sync { connection.statistics }
        // The handshake's flight is one write; then at most one write per read event, not one per reply.
        XCTAssertLessThanOrEqual(statistics.writevCalls, statistics.readEvents + 1)
        XCTAssertLessThan(statistics.writevCalls, count / 10)
    }

    func testFileRegionsAreReadAndEncryptedForTLS() throws {
        let contents = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let handler = FileRegionTests.FileResponder()
        handler.file.withLock { $0 = try? FileRegionTests.TemporaryFile(contents: contents) }
        let server = try startTLSServer(handler: handler, holder: try serverContext())
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TLSTestClient(port: server.boundPort, host: "127.0.0.1", tls: try clientContext())
        defer { client.connection.close() }
        var request = [UInt8]()
        for value in [1000, 150_000] {
            request.append(contentsOf: (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) })
        }
        client.connection.send(framed(request))
        let frame = try XCTUnwrap(client.waitForFrames(1)?.first)
        XCTAssertEqual(frame, Array("head".utf8) + Array(contents[1000..<151_000]) + Array("tail".utf8))
    }

    func testMutualTLSRecordsTheClientSubjectAndRefusesAClientWithoutCertificate() throws {
        let handler = EchoHandler()
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "test", factory: { _ in RecordingLogHandler(store: store) })
        let server = try startTLSServer(
            handler: handler, holder: try serverContext(clientAuth: .required), logger: logger)
        defer { server.shutdown(timeout: .seconds(5)) }

        let client = try TLSTestClient(
            port: server.boundPort, host: "localhost", tls: try clientContext(identity: certificates.client))
        client.connection.send(framed([1, 2, 3]))
        XCTAssertEqual(client.waitForFrames(1)?.first, [1, 2, 3])
        XCTAssertEqual(handler.lastConnection.value?.peerCertificateSubject, "CN=tern-client,O=Tern Tests")
        client.connection.close()

        // TLS 1.3: the client finishes its side first and learns of the refusal on its next read.
        do {
            let anonymous = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
            anonymous.connection.send(framed([4]))
            XCTAssertTrue(waitUntil { anonymous.closeError.value != nil })
            let message = anonymous.closeError.value?.message ?? ""
            XCTAssertTrue(message.contains("certificate required"), message)
        } catch let error as NetError {
            XCTAssertEqual(error.code, .tlsHandshakeFailed, "\(error)")
        }
        XCTAssertTrue(
            waitUntil {
                store.all.contains { "\($0.metadata["error"] ?? "")".contains("did not return a certificate") }
            },
            "\(store.all.map(\.message))")
        XCTAssertEqual(handler.received.value, 1)
    }

    func testRequestedClientCertificateIsOptionalAndRecordedWhenSent() throws {
        let handler = EchoHandler()
        let server = try startTLSServer(handler: handler, holder: try serverContext(clientAuth: .requested))
        defer { server.shutdown(timeout: .seconds(5)) }
        let anonymous = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
        anonymous.connection.send(framed([1]))
        XCTAssertEqual(anonymous.waitForFrames(1)?.first, [1])
        XCTAssertNil(handler.lastConnection.value?.peerCertificateSubject)
        anonymous.connection.close()
        let identified = try TLSTestClient(
            port: server.boundPort, host: "localhost", tls: try clientContext(identity: certificates.client))
        defer { identified.connection.close() }
        identified.connection.send(framed([2]))
        XCTAssertEqual(identified.waitForFrames(1)?.first, [2])
        XCTAssertEqual(handler.lastConnection.value?.peerCertificateSubject, "CN=tern-client,O=Tern Tests")
    }

    func testClientRefusesUnknownCAExpiredCertificateAndWrongHostName() throws {
        let cases: [(TestCertificates.Identity, String)] = [
            (certificates.otherCAServer, "unable to get local issuer certificate"),
            (certificates.expiredServer, "certificate has expired"),
            (certificates.wrongHostServer, "hostname mismatch"),
        ]
        for (identity, reason) in cases {
            let store = RecordingLogHandler.Store()
            let logger = Logger(label: "test", factory: { _ in RecordingLogHandler(store: store) })
            let handler = EchoHandler()
            let server = try startTLSServer(handler: handler, holder: try serverContext(identity), logger: logger)
            defer { server.shutdown(timeout: .seconds(5)) }
            XCTAssertThrowsError(
                try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
            ) { error in
                let error = error as? NetError
                XCTAssertEqual(error?.code, .tlsHandshakeFailed)
                XCTAssertTrue(error?.message.contains(reason) == true, "\(String(describing: error))")
                XCTAssertTrue(error?.message.contains("localhost:\(server.boundPort)") == true)
            }
            // The broker's side logs the refusal (the client's alert names it).
            XCTAssertTrue(
                waitUntil { store.all.contains { $0.message == "closing connection: TLS handshake failed" } },
                "\(reason): \(store.all.map(\.message))")
        }
    }

    func testHostNameCheckCanBeTurnedOff() throws {
        let server = try startTLSServer(handler: EchoHandler(), holder: try serverContext(certificates.wrongHostServer))
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TLSTestClient(
            port: server.boundPort, host: "localhost", tls: try clientContext(verifyHostname: false))
        defer { client.connection.close() }
        client.connection.send(framed([9]))
        XCTAssertEqual(client.waitForFrames(1)?.first, [9])
    }

    func testPlaintextClientOnTLSListenerHearsThatTheBrokerExpectsTLS() throws {
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "test", factory: { _ in RecordingLogHandler(store: store) })
        let server = try startTLSServer(handler: EchoHandler(), holder: try serverContext(), logger: logger)
        defer { server.shutdown(timeout: .seconds(5)) }
        let client = try TestClient(port: server.boundPort)
        client.connection.send(framed([1, 2, 3, 4]))
        XCTAssertTrue(waitUntil { client.closeResult.value != nil })
        XCTAssertEqual(client.closeResult.value, .error(.tlsRequired))
        XCTAssertTrue(
            waitUntil {
                store.all.contains { $0.message == "closing connection: plaintext (not TLS) on a TLS listener" }
            })
    }

    func testTLSClientOnPlaintextListenerHearsThatTheBrokerDoesNotSpeakTLS() throws {
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "test", factory: { _ in RecordingLogHandler(store: store) })
        let server = try startServer(handler: EchoHandler(), logger: logger)
        defer { server.shutdown(timeout: .seconds(5)) }
        XCTAssertThrowsError(try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())) {
            let error = $0 as? NetError
            XCTAssertEqual(error?.code, .tlsNotSpoken)
            XCTAssertTrue(error?.message.contains("does not speak TLS") == true, "\(String(describing: error))")
        }
        XCTAssertTrue(
            waitUntil {
                store.all.contains {
                    $0.message.hasPrefix("closing connection: a TLS ClientHello arrived on a plaintext listener")
                }
            })
    }

    func testGarbageAndTruncatedHandshakesCloseTheConnectionAndTheServerKeepsServing() throws {
        let handler = EchoHandler()
        let server = try startTLSServer(handler: handler, holder: try serverContext())
        defer { server.shutdown(timeout: .seconds(5)) }
        // A plausible record header followed by nonsense, then a record cut short by a close.
        let inputs: [[UInt8]] = [
            [0x16, 0x03, 0x01, 0x00, 0x20] + [UInt8](repeating: 0xEE, count: 32),
            [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01],
            [0x16],
        ]
        for (index, bytes) in inputs.enumerated() {
            let socket = try TestSocket(port: server.boundPort)
            try socket.write(bytes)
            if index > 0 { shutdown(socket.fd, Int32(SHUT_WR)) }
            XCTAssertTrue(socket.waitForClose(), "input \(index) left the connection open")
        }
        XCTAssertTrue(waitUntil { handler.closes.total == inputs.count && server.connectionCount == 0 })
        let client = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
        defer { client.connection.close() }
        client.connection.send(framed([7]))
        XCTAssertEqual(client.waitForFrames(1)?.first, [7])
    }

    func testAHandshakeThatStallsIsClosedAfterTheHandshakeTimeout() throws {
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "test", factory: { _ in RecordingLogHandler(store: store) })
        let server = try startServer(handler: EchoHandler(), logger: logger) {
            $0.tls = try? self.serverContext()
            $0.tlsHandshakeTimeout = .milliseconds(300)
        }
        defer { server.shutdown(timeout: .seconds(5)) }
        let socket = try TestSocket(port: server.boundPort)
        try socket.write([0x16, 0x03, 0x01])  // the start of a record header, then nothing
        let started = ContinuousClock.now
        XCTAssertTrue(socket.waitForClose(), "the stalled handshake was left open")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(8), "closed by the handshake timeout, not another")
        XCTAssertTrue(
            waitUntil { store.all.contains { "\($0.metadata["error"] ?? "")".contains("not finished after") } })
    }

    func testReplacedContextServesNewConnectionsWhileOpenOnesKeepWorking() throws {
        let holder = try serverContext()
        let server = try startTLSServer(handler: EchoHandler(), holder: holder)
        defer { server.shutdown(timeout: .seconds(5)) }
        let before = try TLSTestClient(port: server.boundPort, host: "localhost", tls: try clientContext())
        defer { before.connection.close() }
        let trustsOnlyOther = try clientContext(ca: certificates.otherCA)
        XCTAssertThrowsError(try TLSTestClient(port: server.boundPort, host: "localhost", tls: trustsOnlyOther))

        holder.replace(with: try serverContext(certificates.otherCAServer).context)
        let after = try TLSTestClient(port: server.boundPort, host: "localhost", tls: trustsOnlyOther)
        defer { after.connection.close() }
        after.connection.send(framed([2]))
        XCTAssertEqual(after.waitForFrames(1)?.first, [2])
        before.connection.send(framed([1]))
        XCTAssertEqual(before.waitForFrames(1)?.first, [1])
    }

    func testContextErrorsNameTheFileAndTheReason() throws {
        let missing = certificates.directory.path + "/missing.pem"
        XCTAssertThrowsError(
            try TLSContext(
                TLSConfiguration(certificateChainPath: missing, privateKeyPath: certificates.server.key), role: .server)
        ) {
            let message = ($0 as? NetError)?.message ?? ""
            XCTAssertTrue(message.contains("ssl.certificate.location \(missing)"), message)
            XCTAssertTrue(message.contains("No such file"), message)
        }
        let encrypted = try certificates.encryptedKey(certificates.server, password: "right")
        var wrong = TLSConfiguration(
            certificateChainPath: certificates.server.certificate, privateKeyPath: encrypted,
            privateKeyPassword: "wrong")
        XCTAssertThrowsError(try TLSContext(wrong, role: .server)) {
            let message = ($0 as? NetError)?.message ?? ""
            XCTAssertTrue(message.contains("ssl.key.location \(encrypted): cannot decrypt the key"), message)
        }
        wrong.privateKeyPassword = "right"
        XCTAssertNoThrow(try TLSContext(wrong, role: .server))
        let mismatched = TLSConfiguration(
            certificateChainPath: certificates.server.certificate, privateKeyPath: certificates.client.key)
        XCTAssertThrowsError(try TLSContext(mismatched, role: .server)) {
            XCTAssertTrue(($0 as? NetError)?.message.contains("does not match the certificate") == true, "\($0)")
        }
    }
}

/// A client connection that keeps what it receives and the error that closed it.
final class TLSTestClient: Sendable {
    let connection: ClientConnection
    let frames = Locked<[[UInt8]]>([])
    let closeError = Locked<NetError?>(nil)

    init(port: Int, host: String, tls: TLSContext) throws {
        let frames = self.frames
        let closeError = self.closeError
        connection = try ClientConnection.connect(
            host: host, port: port, timeout: .seconds(10), maxFrameBytes: 64 * 1024 * 1024, tls: tls,
            onFrame: { payload in
                let bytes = [UInt8](payload)
                frames.withLock { $0.append(bytes) }
            },
            onClose: { error in closeError.withLock { $0 = (error as? NetError) ?? NetError(.closed, "closed") } })
    }

    func waitForFrames(_ count: Int, timeout: Duration = .seconds(10)) -> [[UInt8]]? {
        waitUntil(timeout: timeout) { self.frames.value.count >= count } ? frames.value : nil
    }
}
