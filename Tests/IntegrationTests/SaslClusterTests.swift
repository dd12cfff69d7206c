import Dispatch
import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// SASL on a three-node cluster of real `ternd` processes: every node carries the same bootstrap
/// users file and opens its client listeners only once the users are committed (through the
/// active controller, over the controller listener for the nodes that are not it); users created
/// through any node (forwarded to the active controller) log in at every node; followers log in to
/// the SASL inter-broker listener, so a replicated topic replicates.
final class SaslClusterTests: XCTestCase {
    func testBootstrapUsersAndUserChangesReachEveryNode() async throws {
        let directory = TemporaryDirectory("tern-sasl-cluster")
        defer { directory.remove() }
        let usersFile = directory.path + "/users"
        try "admin:admin-secret\n\(saslClusterBrokerUser.name):\(saslClusterBrokerUser.password)\n".write(
            toFile: usersFile, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(usersFile, 0o400), 0)
        // Started together: each waits for the quorum (and the users) before it listens, as a
        // Kafka broker waits for the metadata log.
        let (nodes, processes) = try startSaslClusterNodes(directory: directory.path, usersFile: usersFile)
        defer { for process in processes { process.stop() } }

        func login(_ node: SecureClusterNode, _ user: String, _ password: String) async -> Bool {
            var configuration = ClientConfiguration(
                bootstrap: ["127.0.0.1:\(node.client)"], requestTimeout: .seconds(5), connectTimeout: .seconds(2))
            configuration.sasl = ClientSASL(mechanism: .scramSHA512, username: user, password: password)
            guard let client = try? await TernClient(configuration: configuration) else { return false }
            let ok = (try? await client.admin.listTopics()) != nil
            await client.close()
            return ok
        }
        // Listening means committed and applied on that node: the first login works everywhere.
        for node in nodes { let ok = await login(node, "admin", "admin-secret"); XCTAssertTrue(ok, "node \(node.id)") }

        // A user created through node 3 (the SDK sends the change to the active controller when
        // its metadata names one; any broker would forward it).
        var configuration = ClientConfiguration(
            bootstrap: ["127.0.0.1:\(nodes[2].client)"], requestTimeout: .seconds(10))
        configuration.sasl = ClientSASL(mechanism: .scramSHA256, username: "admin", password: "admin-secret")
        let admin = try await TernClient(configuration: configuration)
        try await admin.admin.createUser(name: "carol", password: "carol pw", mechanism: .sha512)
        let controllerId = try await admin.admin.describeClusterMembership().controllerId
        await admin.close()
        for node in nodes {
            let deadline = Date().addingTimeInterval(20)
            var ok = false
            while !ok && Date() < deadline {
                ok = await login(node, "carol", "carol pw")
                if !ok { try await Task.sleep(for: .milliseconds(200)) }
            }
            XCTAssertTrue(ok, "carol cannot log in at node \(node.id)")
        }

        // Any node takes AlterUserScramCredentials: one that is not the controller forwards it and
        // answers once it has applied the commit, so the user logs in there at once, and at every
        // other node once it has applied the same entry.
        let other = try XCTUnwrap(nodes.first { $0.id != controllerId })
        let raw = try RawConnection(port: try XCTUnwrap(other.plain))
        let answer = try raw.roundTrip(
            AlterUserScramCredentialsRequest(upsertions: [
                .init(user: "dave", mechanism: .sha512, password: "dave pw", iterations: 4096)
            ]))
        XCTAssertEqual(answer.status.errorCode, ErrorCode.none, "\(answer.status)")
        let result = try XCTUnwrap(answer.response?.results.first)
        XCTAssertEqual(result.errorCode, ErrorCode.none, "\(result)")
        let atOnce = await login(other, "dave", "dave pw")
        XCTAssertTrue(atOnce, "dave cannot log in at node \(other.id) right after the change returned")
        for node in nodes where node.id != other.id {
            let deadline = Date().addingTimeInterval(10)
            var ok = false
            while !ok && Date() < deadline {
                ok = await login(node, "dave", "dave pw")
                if !ok { try await Task.sleep(for: .milliseconds(200)) }
            }
            XCTAssertTrue(ok, "dave cannot log in at node \(node.id)")
        }
        // SASL requests on a listener without SASL: ILLEGAL_SASL_STATE, as Kafka answers.
        let handshake = try raw.roundTrip(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), correlationId: 2)
        XCTAssertEqual(handshake.response?.errorCode, .illegalSaslState)

        try assertReplicates(nodes, processes)
    }

    /// An RF=3, min.insync.replicas=3 topic on the SASL cluster: an acks=all produce is answered
    /// and every replica's log holds the batch, so the followers logged in to the SASL_PLAINTEXT
    /// inter-broker listener (as the broker user) and copied the leader's log.
    private func assertReplicates(_ nodes: [SecureClusterNode], _ processes: [BrokerProcess]) throws {
        let topic = "replicated"
        var logs: String { processes.enumerated().map { "--- node \($0.offset + 1)\n\($0.element.log)" }.joined() }
        func plain(_ id: Int32) throws -> RawConnection {
            try RawConnection(port: try XCTUnwrap(nodes.first { $0.id == id }?.plain), timeout: 20)
        }
        let setup = try plain(1)
        let created = try setup.roundTrip(
            CreateTopicsRequest(topics: [
                .init(
                    name: topic, numPartitions: 1, replicationFactor: 3,
                    configs: [.init(name: "min.insync.replicas", value: "3")])
            ]))
        XCTAssertEqual(created.response?.topics.first?.errorCode, ErrorCode.none, "\(created)")
        var leader: Int32 = -1
        guard
            pollUntil(
                30, "the replicated partition has a leader and three replicas in sync", logs: logs,
                {
                    let answer = try setup.roundTrip(MetadataRequest(topics: [topic]), correlationId: 2)
                    guard let p = answer.response?.topics.first?.partitions.first, p.leader > 0, p.isr.count == 3
                    else { return false }
                    leader = p.leader
                    return true
                })
        else { return }
        let values = (0..<50).map { "r-\($0)" }
        let produce = ProduceRequest(
            acks: -1, timeoutMs: 15_000,
            topics: [
                .init(
                    name: topic,
                    partitions: [
                        .init(partition: 0, records: makeBatch(records: values.map { TestRecord(key: nil, value: $0) }))
                    ])
            ])
        // Retried only until the leader hosts the partition (it answers NOT_LEADER before).
        var code: ErrorCode?
        pollUntil(45, "the acks=all produce is answered", logs: logs) {
            code = try plain(leader).roundTrip(produce).response?.topics.first?.partitions.first?.errorCode
            return code == ErrorCode.none || code == .notEnoughReplicas || code == .requestTimedOut
        }
        XCTAssertEqual(code, ErrorCode.none, "acks=all on the replicated partition\n\(logs)")
        for node in nodes {
            pollUntil(20, "node \(node.id) holds the batch", logs: logs) {
                let answer = try plain(node.id).roundTrip(DescribeLogDirsRequest(topics: [topic]))
                return answer.response?.logDirs.flatMap(\.topics).first { $0.name == topic }?.partitions.first?
                    .logEndOffset == Int64(values.count)
            }
        }
    }
}
