import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// ACL changes through any node of three real `ternd` processes (authorizer on): a broker that
/// is not the active controller forwards CreateAcls / DeleteAcls inside an Envelope and answers
/// once it has applied the commit, so the change is enforced there as soon as the client has
/// the answer, and on every other node once it has applied the same entry; a lost majority
/// fails the change (and a SCRAM user change) clearly within the forwarding timeout.
final class ClusterAclForwardingTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-acls")
        // Plaintext clients are User:ANONYMOUS; with no ACL on a resource everyone may use it,
        // so one DENY is what changes what they may do.
        var settings = ClusterQuorumTests.settings
        settings["authorizer.enable"] = "true"
        settings["allow.everyone.if.no.acl.found"] = "true"
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    /// One request to one node on a fresh connection: the response status and body; nil when
    /// the node does not answer in time.
    private func send<R: WireRequest>(
        _ nodeId: Int32, _ request: R, timeout: TimeInterval = 20
    ) -> (status: ResponseStatus, response: R.Response?)? {
        guard let connection = try? RawConnection(port: cluster.node(nodeId).clientPort, timeout: timeout) else {
            return nil
        }
        return try? connection.roundTrip(request)
    }

    /// Waits until every node reports three unfenced brokers and a controller, and answers
    /// DescribeCluster (its authorizer has caught up); returns the controller.
    private func waitForCluster() -> Int32 {
        var controller: Int32 = -1
        for node in [Int32(1), 2, 3] {
            cluster.waitUntil(60, "node \(node) sees 3 unfenced brokers and a controller") {
                guard let answer = send(node, MetadataRequest(topics: []), timeout: 5)?.response,
                    answer.brokers.count == 3, answer.controllerId >= 0
                else { return false }
                controller = answer.controllerId
                return send(node, DescribeClusterRequest(includeFencedBrokers: false), timeout: 5)?.status.errorCode
                    == ErrorCode.none
            }
        }
        return controller
    }

    private static let denyDescribeCluster = AclBinding(
        resourceType: .cluster, resourceName: AclBinding.clusterResourceName, principal: "User:ANONYMOUS",
        operation: .describe, permission: .deny)

    // MARK: Tests

    func testAclCreatedThroughANonControllerIsEnforcedOnEveryNode() throws {
        let controller = waitForCluster()
        let nodes = [Int32(1), 2, 3]
        let receiver = try XCTUnwrap(nodes.first { $0 != controller })

        // ALL on the cluster for the client (so it may still change ACLs once the cluster has
        // one), and a DENY of DESCRIBE, which wins.
        let allowAll = AclBinding(
            resourceType: .cluster, resourceName: AclBinding.clusterResourceName, principal: "User:ANONYMOUS",
            operation: .all)
        let created = send(receiver, CreateAclsRequest(creations: [allowAll, Self.denyDescribeCluster]))
        XCTAssertEqual(created?.status.errorCode, ErrorCode.none, "\(String(describing: created))")
        XCTAssertEqual(
            created?.response?.results.map(\.errorCode), [ErrorCode.none, .none], "\(String(describing: created))")

        // Answered after the receiving broker applied the commit: enforced there at once.
        XCTAssertEqual(
            send(receiver, DescribeClusterRequest(includeFencedBrokers: false))?.status.errorCode,
            .clusterAuthorizationFailed, "node \(receiver) right after CreateAcls returned")
        // Every other node applies the same committed entry (bounded: it learns the commit on its
        // next fetch of the metadata log).
        for node in nodes where node != receiver {
            cluster.waitUntil(10, "node \(node) enforces the ACL created through node \(receiver)") {
                send(node, DescribeClusterRequest(includeFencedBrokers: false), timeout: 5)?.status.errorCode
                    == .clusterAuthorizationFailed
            }
            let listed = send(node, DescribeAclsRequest(filter: .all), timeout: 5)
            // DescribeAcls needs DESCRIBE on the cluster too: the DENY refuses it as well.
            XCTAssertEqual(listed?.status.errorCode, .clusterAuthorizationFailed, "node \(node)")
        }

        // DeleteAcls through the other non-controller node: the DENY is gone there at once.
        let second = try XCTUnwrap(nodes.first { $0 != controller && $0 != receiver })
        let deleted = send(second, DeleteAclsRequest(filters: [AclBindingFilter(exactly: Self.denyDescribeCluster)]))
        XCTAssertEqual(deleted?.status.errorCode, ErrorCode.none, "\(String(describing: deleted))")
        XCTAssertEqual(deleted?.response?.results.first?.deleted, [Self.denyDescribeCluster])
        XCTAssertEqual(
            send(second, DescribeClusterRequest(includeFencedBrokers: false))?.status.errorCode, ErrorCode.none,
            "node \(second) right after DeleteAcls returned")

        // ElectLeaders needs ALTER on the cluster: allowed now, refused on every node once denied
        // (the last change here: a DENY of ALTER also stops further ACL changes).
        XCTAssertEqual(send(second, ElectLeadersRequest())?.status.errorCode, ErrorCode.none)
        let denyAlter = AclBinding(
            resourceType: .cluster, resourceName: AclBinding.clusterResourceName, principal: "User:ANONYMOUS",
            operation: .alter, permission: .deny)
        XCTAssertEqual(send(second, CreateAclsRequest(creations: [denyAlter]))?.status.errorCode, ErrorCode.none)
        for node in nodes {
            cluster.waitUntil(10, "node \(node) refuses ElectLeaders without ALTER on the cluster") {
                send(node, ElectLeadersRequest(), timeout: 5)?.status.errorCode == .clusterAuthorizationFailed
            }
        }
    }

    func testAclChangesWithoutAMajorityFailNamingTheLostQuorum() throws {
        let controller = waitForCluster()
        let nodes = [Int32(1), 2, 3]
        let last = try XCTUnwrap(nodes.first { $0 != controller })
        for node in nodes where node != last { cluster.kill9(node) }

        // The broker retries the controller until its forwarding timeout (10 s), then answers
        // for every binding: no hang, and the message says why.
        let started = Date()
        let answer = send(last, CreateAclsRequest(creations: [Self.denyDescribeCluster]), timeout: 30)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(answer?.status.errorCode, ErrorCode.none, "\(String(describing: answer))")
        let result = try XCTUnwrap(answer?.response?.results.first, "no answer within 30 s\n\(cluster.logs)")
        XCTAssertTrue(
            result.errorCode == .requestTimedOut || result.errorCode == .notController, "\(result.errorCode)")
        XCTAssertTrue(result.errorMessage?.contains("no metadata quorum") == true, result.errorMessage ?? "nil")
        XCTAssertLessThan(elapsed, 15, "CreateAcls took \(elapsed) s")
        XCTAssertEqual(
            send(last, DescribeClusterRequest(includeFencedBrokers: false), timeout: 5)?.status.errorCode,
            ErrorCode.none, "nothing was committed, so nothing is enforced")
        // A SCRAM user change takes the same path and fails the same way, for the user it names.
        let userStarted = Date()
        let user = send(
            last,
            AlterUserScramCredentialsRequest(upsertions: [
                .init(user: "erin", mechanism: .sha256, password: "erin pw", iterations: 4096)
            ]), timeout: 30)
        let userElapsed = Date().timeIntervalSince(userStarted)
        let userResult = try XCTUnwrap(user?.response?.results.first, "no answer within 30 s\n\(cluster.logs)")
        XCTAssertEqual(userResult.user, "erin")
        XCTAssertTrue(
            userResult.errorCode == .requestTimedOut || userResult.errorCode == .notController,
            "\(userResult.errorCode)")
        XCTAssertTrue(
            userResult.errorMessage?.contains("no metadata quorum") == true, userResult.errorMessage ?? "nil")
        XCTAssertLessThan(userElapsed, 15, "AlterUserScramCredentials took \(userElapsed) s")

        // The quorum back: the same change goes through the same broker.
        try cluster.start(controller)
        var recovered = false
        let deadline = Date().addingTimeInterval(60)
        while !recovered && Date() < deadline {
            let retry = send(last, CreateAclsRequest(creations: [Self.denyDescribeCluster]), timeout: 30)
            recovered = retry?.response?.results.first?.errorCode == ErrorCode.none
            if !recovered { usleep(200_000) }
        }
        XCTAssertTrue(recovered, "no ACL creation within 60 s of the quorum's return\n\(cluster.logs)")
    }
}
