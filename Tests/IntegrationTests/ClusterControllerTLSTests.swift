import Dispatch
import Foundation
import Synchronization
import TernClient
import TernNet
import TernTestSupport
import TernWire
import XCTest

/// The controller listener on mutual TLS (`listener.security.protocol.map = CONTROLLER:SSL`):
/// three real `ternd` nodes, each a voter and a broker, whose quorum (Vote, BeginQuorumEpoch,
/// QuorumFetch), registrations, heartbeats, AlterPartition and forwarded requests all cross TLS
/// with the nodes' own certificates. They elect a leader, serve an RF=3 topic with `acks=all`,
/// and fail over when the active controller is killed with SIGKILL; a plaintext client, a TLS
/// client without a certificate and one whose certificate another CA signed are refused on the
/// controller listener, while a client with a CA-signed certificate is answered.
final class ClusterControllerTLSTests: SecureClusterTestCase {
    override var directoryLabel: String { "tern-cluster-controller-tls" }
    let topic = "quorum-tls"

    private func start(_ extra: [String: String] = [:]) throws {
        var settings = [
            "listener.security.protocol.map": "CONTROLLER:SSL,PLAINTEXT:PLAINTEXT",
            "ssl.certificate.location": certificates.server.certificate,
            "ssl.key.location": certificates.server.key, "ssl.ca.location": certificates.ca,
            "replica.lag.time.max.ms": "3000",
        ]
        settings.merge(extra) { $1 }
        (nodes, processes) = try startSecureClusterNodes(
            directory: directory.path, scheme: "PLAINTEXT", settings: settings)
    }

    private func client(_ node: SecureClusterNode) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: ["127.0.0.1:\(node.client)"], requestTimeout: .seconds(20), connectTimeout: .seconds(5)))
    }

    /// The outcome of one DescribeQuorum on a controller listener.
    enum Outcome {
        case answered(DescribeQuorumResponse)
        case refused(String)
    }

    /// Sends DescribeQuorum to the controller listener at `port` over TLS with `tls` (nil:
    /// plaintext) and waits for the answer or the end of the connection.
    private func askControllerListener(_ port: Int, tls: TLSContext?) -> Outcome {
        let frames = Mutex<[[UInt8]]>([])
        let closed = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        let connection: ClientConnection
        do {
            connection = try ClientConnection.connect(
                host: "127.0.0.1", port: port, timeout: .seconds(5), maxFrameBytes: 1 << 20, tls: tls,
                onFrame: { frame in
                    frames.withLock { $0.append(Array(frame)) }
                    done.signal()
                },
                onClose: { error in
                    closed.withLock { $0 = "closed: \(error.map { "\($0)" } ?? "by us")" }
                    done.signal()
                })
        } catch {
            return .refused("connect: \(error)")
        }
        defer { connection.close() }
        connection.send(Frame.request(DescribeQuorumRequest(), correlationId: 7, clientId: "controller-tls-test"))
        guard done.wait(timeout: .now() + 15) == .success else { return .refused("no answer within 15 s") }
        guard let frame = frames.withLock({ $0.first }) else {
            return .refused(closed.withLock { $0 } ?? "nothing")
        }
        var reader = ByteReader(frame)
        do {
            let head = try Frame.readResponseHead(&reader)
            guard head.correlationId == 7, head.status.errorCode == .none else { return .refused("\(head.status)") }
            return .answered(try DescribeQuorumResponse(from: &reader, version: DescribeQuorumRequest.apiVersion))
        } catch {
            return .refused("unreadable answer: \(error)")
        }
    }

    private func tlsContext(certificate: TestCertificates.Identity?, ca: String) throws -> TLSContext {
        var configuration = TLSConfiguration(
            certificateChainPath: certificate?.certificate, privateKeyPath: certificate?.key, caPath: ca)
        configuration.verifyHostname = false
        return try TLSContext(configuration, role: .client)
    }

    /// The partition's leader and ISR as a broker reports them, with the active controller.
    private func state(_ client: TernClient) async -> (leader: Int32, isr: [Int32], controller: Int32)? {
        guard let answer = try? await client.sendToAnyBroker(MetadataRequest(topics: [topic])),
            let t = answer.topics.first(where: { $0.name == topic }), t.errorCode == .none,
            let p = t.partitions.first(where: { $0.partition == 0 })
        else { return nil }
        return (p.leader, p.isr, answer.controllerId)
    }

    private func produce(_ client: TernClient, to leader: Int32, _ values: [String]) async -> ErrorCode? {
        let request = ProduceRequest(
            acks: -1, timeoutMs: 10_000,
            topics: [
                .init(
                    name: topic,
                    partitions: [
                        .init(partition: 0, records: makeBatch(records: values.map { TestRecord(key: nil, value: $0) }))
                    ])
            ])
        return (try? await client.send(request, to: leader))?.topics.first?.partitions.first?.errorCode
    }

    // MARK: Tests

    func testQuorumRegistrationAndFailoverOverMutualTLSAndStrangersRefused() async throws {
        try start()
        let probe = try await client(nodes[0])
        // Registrations and heartbeats crossed TLS: every broker is known and unfenced.
        var firstController: Int32 = -1
        await waitUntil(60, "three registered brokers and an active controller") {
            guard let answer = try? await probe.sendToAnyBroker(MetadataRequest(topics: nil)) else { return false }
            firstController = answer.controllerId
            return answer.brokers.count == 3 && answer.controllerId > 0
        }
        await probe.close()
        let admin = try await client(nodes[0])

        // An RF=3 topic, asked of a node that is not the active controller: it forwards the
        // request there (an Envelope over the controller listener, so over TLS).
        let receiver = try XCTUnwrap(nodes.first { $0.id != firstController }).id
        await waitUntil(30, "the replicated topic is created through node \(receiver)") {
            let answer = try? await admin.send(
                CreateTopicsRequest(topics: [
                    .init(
                        name: topic, numPartitions: 1, replicationFactor: 3,
                        configs: [.init(name: "min.insync.replicas", value: "2")])
                ]), to: receiver)
            return [ErrorCode.none, .topicAlreadyExists].contains(answer?.topics.first?.errorCode)
        }
        var leader: Int32 = -1
        var controller: Int32 = -1
        await waitUntil(30, "a leader and three replicas in sync") {
            guard let s = await state(admin), s.leader > 0, s.isr.count == 3, s.controller > 0 else { return false }
            (leader, controller) = (s.leader, s.controller)
            return true
        }
        var acknowledged: [String] = []
        var attempt = 0
        await waitUntil(30, "the leader acknowledges acks=all") {
            attempt += 1
            let values = (0..<20).map { "before-\(attempt)-\($0)" }
            guard await produce(admin, to: leader, values) == ErrorCode.none else { return false }
            acknowledged += values
            return acknowledged.count >= 100
        }

        // Strangers on the controller listener: plaintext, TLS without a certificate, TLS with a
        // certificate of another CA. A node's certificate is answered (the listener works).
        let port = nodes[0].controller
        if case .answered(let answer) = askControllerListener(port, tls: nil) {
            XCTFail("a plaintext client was answered on the controller listener: \(answer)")
        }
        if case .answered(let answer) = askControllerListener(
            port, tls: try tlsContext(certificate: nil, ca: certificates.ca))
        {
            XCTFail("a TLS client without a certificate was answered: \(answer)")
        }
        let foreign = try tlsContext(certificate: certificates.otherCAServer, ca: certificates.ca)
        if case .answered(let answer) = askControllerListener(port, tls: foreign) {
            XCTFail("a TLS client whose certificate another CA signed was answered: \(answer)")
        }
        let member = try tlsContext(certificate: certificates.client, ca: certificates.ca)
        switch askControllerListener(port, tls: member) {
        case .answered(let answer): XCTAssertEqual(answer.errorCode, ErrorCode.none)
        case .refused(let reason): XCTFail("a CA-signed client was refused: \(reason)\n\(logs)")
        }
        let listenerLog = processes[0].log
        XCTAssertTrue(listenerLog.contains("plaintext (not TLS) on a TLS listener"), "\(listenerLog)")
        XCTAssertTrue(listenerLog.contains("TLS handshake failed"), "\(listenerLog)")

        // kill -9 the active controller: the other two elect a new one over TLS, which fences the
        // dead broker (a new partition leader, or a shrunk in-sync set through AlterPartition).
        let victim = controller
        processes[Int(victim) - 1].kill9()
        let survivor = try XCTUnwrap(nodes.first { $0.id != victim })
        let after = try await client(survivor)
        await waitUntil(60, "a new controller and a partition leader among the survivors") {
            guard let s = await state(after), s.controller > 0, s.controller != victim, s.leader > 0,
                s.leader != victim, !s.isr.contains(victim)
            else { return false }
            leader = s.leader
            return true
        }
        await waitUntil(60, "acks=all is acknowledged again") {
            attempt += 1
            let values = (0..<20).map { "after-\(attempt)-\($0)" }
            guard await produce(after, to: leader, values) == ErrorCode.none else { return false }
            acknowledged += values
            return true
        }

        // Every acknowledged record, once each, in order, on the new leader.
        var read: [String] = []
        await waitUntil(30, "the new leader serves every acknowledged record") {
            let fetch = FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 8 << 20,
                topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 8 << 20)])])
            guard let partition = (try? await after.send(fetch, to: leader))?.topics.first?.partitions.first,
                partition.errorCode == .none
            else { return false }
            read = ((try? decodeRecords(partition.records)) ?? []).map {
                String(decoding: $0.value ?? [], as: UTF8.self)
            }
            return read.count >= acknowledged.count
        }
        // A produce that failed (a timeout around the kill) may still have been written: only
        // acknowledged records are promised, each exactly once and in order.
        let promised = Set(acknowledged)
        XCTAssertEqual(read.filter { promised.contains($0) }, acknowledged, "\(logs)")
        XCTAssertEqual(Set(read).count, read.count, "a record is duplicated")
        await admin.close()
        await after.close()
    }

    /// The authorizer on: the nodes' principal (`User:CN=localhost`, their certificate's subject)
    /// is a super user, so the quorum forms; another CA-signed certificate gets
    /// CLUSTER_AUTHORIZATION_FAILED on the controller listener until an ACL grants its principal
    /// CLUSTER_ACTION on the cluster.
    func testControllerListenerRequestsNeedClusterActionWithTheAuthorizer() async throws {
        try start([
            "authorizer.enable": "true",
            // The plaintext client listener's clients are User:ANONYMOUS: the administrator here.
            "super.users": "User:CN=localhost;User:ANONYMOUS",
        ])
        let admin = try await client(nodes[0])
        await waitUntil(60, "three registered brokers and an active controller") {
            guard let answer = try? await admin.sendToAnyBroker(MetadataRequest(topics: nil)) else { return false }
            return answer.brokers.count == 3 && answer.controllerId > 0
        }
        let principal = "User:CN=tern-client,O=Tern Tests"
        let member = try tlsContext(certificate: certificates.client, ca: certificates.ca)
        let port = nodes[0].controller
        switch askControllerListener(port, tls: member) {
        case .answered(let answer): XCTFail("\(principal) was answered without CLUSTER_ACTION: \(answer)")
        case .refused(let reason): XCTAssertTrue(reason.contains("CLUSTER_AUTHORIZATION_FAILED"), reason)
        }
        XCTAssertTrue(processes[0].log.contains(principal), "the denial is logged with the principal\n\(logs)")

        try await admin.admin.createAcls([
            AclBinding(
                resourceType: .cluster, resourceName: AclBinding.clusterResourceName, principal: principal,
                operation: .clusterAction)
        ])
        var last = ""
        await waitUntil(30, "CLUSTER_ACTION lets the principal in (last: \(last))") {
            switch askControllerListener(port, tls: member) {
            case .answered(let answer): return answer.errorCode == .none
            case .refused(let reason):
                last = reason
                return false
            }
        }
        await admin.close()
    }

    /// A broker-only node (an observer: no controller listener of its own) dials the voters'
    /// SSL controller listeners with its certificate: it follows the metadata log and registers.
    func testBrokerOnlyNodeFollowsAndRegistersOverTLS() async throws {
        try start()
        let probe = try await client(nodes[0])
        await waitUntil(60, "three registered brokers") {
            ((try? await probe.sendToAnyBroker(MetadataRequest(topics: nil)))?.brokers.count ?? 0) == 3
        }
        await probe.close()
        let observer = try BrokerProcess(
            dataDirectory: directory.path + "/node-4",
            settings: [
                "node.id": "4", "process.roles": "broker",
                "controller.quorum.voters": nodes.map { "\($0.id)@127.0.0.1:\($0.controller)" }.joined(separator: ","),
                "listener.security.protocol.map": "CONTROLLER:SSL",
                "ssl.certificate.location": certificates.server.certificate,
                "ssl.key.location": certificates.server.key, "ssl.ca.location": certificates.ca,
                "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
            ], readyTimeout: 60)
        processes.append(observer)
        // Its own metadata (fetched from the quorum leader) lists all four: it fetched and registered.
        let own = try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: [observer.bootstrap], requestTimeout: .seconds(20), connectTimeout: .seconds(5)))
        await waitUntil(60, "the observer sees itself and the three voters registered") {
            let brokers = (try? await own.sendToAnyBroker(MetadataRequest(topics: nil)))?.brokers ?? []
            return Set(brokers.map(\.nodeId)) == [1, 2, 3, 4]
        }
        XCTAssertFalse(observer.log.contains("TLS handshake failed"), observer.log)
        await own.close()
    }

    /// A voter and a broker-only node with CONTROLLER:SSL but no CA (mutual TLS needs it), and
    /// a map that puts SASL on the controller listener: ternd stops with exit code 78 naming the key.
    func testIncompleteControllerTLSSettingsStopStartUpWithExitCode78() throws {
        let port = freeLoopbackPort()
        let controller = freeLoopbackPort()
        let common = [
            "--set", "log.dirs=\(directory.path)/bad", "--set", "admin.listeners=",
            "--set", "controller.quorum.voters=1@127.0.0.1:\(controller),2@127.0.0.1:\(freeLoopbackPort())",
            "--set", "ssl.certificate.location=\(certificates.server.certificate)",
            "--set", "ssl.key.location=\(certificates.server.key)",
        ]
        let cases: [([String], String)] = [
            (
                [
                    "--set", "node.id=1", "--set", "listener.security.protocol.map=CONTROLLER:SSL", "--set",
                    "listeners=PLAINTEXT://127.0.0.1:\(port),CONTROLLER://127.0.0.1:\(controller)",
                ],
                "ssl.ca.location"
            ),
            (
                [
                    "--set", "node.id=3", "--set", "process.roles=broker", "--set",
                    "listener.security.protocol.map=CONTROLLER:SSL", "--set", "listeners=PLAINTEXT://127.0.0.1:\(port)",
                ],
                "ssl.ca.location"
            ),
            (
                [
                    "--set", "node.id=1", "--set", "listener.security.protocol.map=CONTROLLER:SASL_SSL", "--set",
                    "listeners=PLAINTEXT://127.0.0.1:\(port),CONTROLLER://127.0.0.1:\(controller)",
                ],
                "listener.security.protocol.map"
            ),
        ]
        for (arguments, expected) in cases {
            let result = try runCommand(Binaries.path("ternd"), common + arguments, timeout: 30)
            XCTAssertEqual(result.status, 78, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)")
        }
    }
}
