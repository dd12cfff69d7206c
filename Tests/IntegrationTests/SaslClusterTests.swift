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
/// through any node (forwarded to the active controller) log in at every node.
final class SaslClusterTests: XCTestCase {
    func testBootstrapUsersAndUserChangesReachEveryNode() async throws {
        let directory = TemporaryDirectory("tern-sasl-cluster")
        defer { directory.remove() }
        let usersFile = directory.path + "/users"
        try "admin:admin-secret\n".write(toFile: usersFile, atomically: false, encoding: .utf8)
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
    }
}
