import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The cluster keys (`process.roles`, `node.id`, `controller.quorum.voters`,
/// `controller.listener.names`, the quorum timeouts) and named listeners: what they parse to and
/// every refusal, each naming the key and the reason.
final class ClusterConfigTests: XCTestCase {
    private func load(_ overrides: [String: String]) throws(ConfigError) -> BrokerConfig {
        try BrokerConfig.load(
            file: nil, overrides: overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    }

    private func assertRefused(
        _ overrides: [String: String], _ fragments: String..., file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try load(overrides)
            XCTFail("\(overrides) was accepted", file: file, line: line)
        } catch {
            for fragment in fragments {
                XCTAssertTrue(
                    "\(error)".contains(fragment), "\(overrides): '\(error)' lacks '\(fragment)'", file: file,
                    line: line)
            }
        }
    }

    func testNoClusterKeysIsASingleNodeQuorumServingClientsAsToday() throws {
        let config = try BrokerConfig.load(file: nil)
        let cluster = config.cluster
        XCTAssertEqual(cluster.nodeId, 0)
        XCTAssertEqual(cluster.roles, [.broker, .controller])
        XCTAssertEqual(cluster.voters, [])
        XCTAssertTrue(cluster.isSingleNodeQuorum)
        XCTAssertEqual(cluster.voterIds, [0])
        XCTAssertEqual(cluster.controllerListenerNames, ["CONTROLLER"])
        XCTAssertNil(cluster.controllerListener)
        XCTAssertEqual(cluster.brokerSessionTimeoutMs, 9000)
        XCTAssertEqual(cluster.brokerHeartbeatIntervalMs, 2000)
        XCTAssertEqual(cluster.electionTimeoutMs, 1000)
        XCTAssertEqual(cluster.fetchTimeoutMs, 2000)
        XCTAssertEqual(cluster.maxSnapshotIntervalMs, 3_600_000)
        XCTAssertEqual(cluster.maxRecordBytesBetweenSnapshots, 20_971_520)
        XCTAssertEqual(config.listeners, [Listener(host: "127.0.0.1", port: 9092)])
        XCTAssertEqual(config.advertisedListener, Listener(host: "127.0.0.1", port: 9092))
        XCTAssertEqual(config.listeners.map(\.description), ["PLAINTEXT://127.0.0.1:9092"])
        XCTAssertTrue(cluster.controlledShutdownEnable)
        XCTAssertEqual(cluster.controlledShutdownTimeoutMs, 30_000)
        XCTAssertTrue(cluster.autoLeaderRebalanceEnable)
        XCTAssertEqual(cluster.leaderImbalanceCheckIntervalSeconds, 300)
    }

    func testControlledShutdownAndRebalanceKeys() throws {
        let cluster = try load([
            "controlled.shutdown.enable": "false", "controlled.shutdown.timeout.ms": "1500",
            "auto.leader.rebalance.enable": "false", "leader.imbalance.check.interval.seconds": "7",
        ]).cluster
        XCTAssertFalse(cluster.controlledShutdownEnable)
        XCTAssertEqual(cluster.controlledShutdownTimeoutMs, 1500)
        XCTAssertFalse(cluster.autoLeaderRebalanceEnable)
        XCTAssertEqual(cluster.leaderImbalanceCheckIntervalSeconds, 7)
        assertRefused(["leader.imbalance.check.interval.seconds": "0"], "leader.imbalance.check.interval.seconds")
        assertRefused(["controlled.shutdown.timeout.ms": "-1"], "controlled.shutdown.timeout.ms")
        assertRefused(["auto.leader.rebalance.enable": "sometimes"], "auto.leader.rebalance.enable")
    }

    func testAThreeVoterControllerSeparatesItsControllerListener() throws {
        let config = try load([
            "node.id": "2",
            "controller.quorum.voters": "1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095",
            "listeners": "PLAINTEXT://127.0.0.1:9092,controller://0.0.0.0:9094",
            "broker.session.timeout.ms": "6000", "broker.heartbeat.interval.ms": "500",
        ])
        let cluster = config.cluster
        XCTAssertEqual(
            cluster.voters,
            [
                .init(nodeId: 1, host: "127.0.0.1", port: 9093), .init(nodeId: 2, host: "localhost", port: 9094),
                .init(nodeId: 3, host: "::1", port: 9095),
            ])
        XCTAssertEqual(cluster.voters.map(\.description), ["1@127.0.0.1:9093", "2@localhost:9094", "3@[::1]:9095"])
        XCTAssertEqual(cluster.voterIds, [1, 2, 3])
        XCTAssertEqual(cluster.localVoter, .init(nodeId: 2, host: "localhost", port: 9094))
        XCTAssertFalse(cluster.isSingleNodeQuorum)
        XCTAssertEqual(cluster.controllerListener, Listener(name: "CONTROLLER", host: "0.0.0.0", port: 9094))
        // Clients are served, and told about, the PLAINTEXT listener only.
        XCTAssertEqual(config.listeners, [Listener(host: "127.0.0.1", port: 9092)])
        XCTAssertEqual(config.advertisedListener, Listener(host: "127.0.0.1", port: 9092))
        XCTAssertEqual(cluster.brokerSessionTimeoutMs, 6000)
        XCTAssertEqual(cluster.brokerHeartbeatIntervalMs, 500)
    }

    func testBrokerOnlyAndControllerOnlyNodes() throws {
        let broker = try load([
            "process.roles": "broker", "node.id": "7", "controller.quorum.voters": "1@h1:9093,2@h2:9093,3@h3:9093",
        ])
        XCTAssertEqual(broker.cluster.roles, [.broker])
        XCTAssertFalse(broker.cluster.isVoter)
        XCTAssertNil(broker.cluster.localVoter)

        let controller = try load([
            "process.roles": "controller", "node.id": "1", "controller.quorum.voters": "1@127.0.0.1:9093",
            "listeners": "CONTROLLER://127.0.0.1:9093",
        ])
        XCTAssertEqual(controller.cluster.roles, [.controller])
        XCTAssertEqual(controller.listeners, [])
        XCTAssertEqual(
            controller.cluster.controllerListener, Listener(name: "CONTROLLER", host: "127.0.0.1", port: 9093))

        let renamed = try load([
            "controller.listener.names": "QUORUM,SPARE", "controller.quorum.voters": "0@127.0.0.1:9300",
            "listeners": "PLAINTEXT://127.0.0.1:9092,QUORUM://127.0.0.1:9300",
        ])
        XCTAssertEqual(renamed.cluster.controllerListenerNames, ["QUORUM", "SPARE"])
        XCTAssertEqual(renamed.cluster.controllerListener?.port, 9300)
    }

    func testProcessRolesRefusals() {
        assertRefused(["process.roles": "worker"], "process.roles", "'worker' is not a role")
        assertRefused(["process.roles": "broker,broker"], "process.roles", "'broker' is listed twice")
        assertRefused(["process.roles": ""], "process.roles", "'' is not a role")
        assertRefused(["process.roles": "broker,"], "process.roles")
        assertRefused(
            ["process.roles": "broker"], "controller.quorum.voters", "process.roles = broker needs the voters")
        assertRefused(["process.roles": "controller"], "controller.quorum.voters", "controller-only")
        assertRefused(
            [
                "process.roles": "controller", "controller.quorum.voters": "0@h:9093",
                "listeners": "CONTROLLER://h:9093,PLAINTEXT://h:9092",
            ],
            "listeners", "serves no clients")
    }

    func testVoterSyntaxRefusals() {
        let cases: [(String, String)] = [
            ("1@h:9093,", "empty entry"),
            (",1@h:9093", "empty entry"),
            ("h:9093", "missing ID@"),
            ("@h:9093", "not a whole number"),
            ("-1@h:9093", "not a whole number"),
            ("+1@h:9093", "not a whole number"),
            ("one@h:9093", "not a whole number"),
            ("2147483648@h:9093", "outside 0...2147483647"),
            ("99999999999999999999999@h:9093", "outside 0...2147483647"),
            ("1@h", "missing :PORT"),
            ("1@h:", "port must be"),
            ("1@h:0", "from 1 to 65535"),
            ("1@h:65536", "port must be"),
            ("1@h:-5", "port must be"),
            ("1@h:9093x", "port must be"),
            ("1@:9093", "missing host"),
            ("1@[]:9093", "missing host"),
            ("1@0.0.0.0:9093", "not an address other nodes can connect to"),
            ("1@h o:9093", "spaces"),
            ("1@a@b:9093", "'@'"),
            ("1@h:9093,1@g:9093", "node id 1 appears twice"),
            ("1@h:9093,2@h:9093", "name the same address"),
        ]
        for (voters, reason) in cases {
            assertRefused(["controller.quorum.voters": voters], "controller.quorum.voters", reason)
        }
    }

    func testControllerMustBeAVoterWithAControllerListener() {
        assertRefused(
            ["node.id": "4", "controller.quorum.voters": "1@h1:9093,2@h2:9093"], "controller.quorum.voters",
            "node.id 4 is not among the voters (1@h1:9093,2@h2:9093)")
        assertRefused(
            ["node.id": "1", "controller.quorum.voters": "1@h1:9093,2@h2:9093"], "listeners",
            "no listener named CONTROLLER", "CONTROLLER://127.0.0.1:9093")
        assertRefused(
            [
                "node.id": "1", "controller.quorum.voters": "1@h1:9093",
                "listeners": "PLAINTEXT://h:1,CONTROLLER://h:2,CONTROLLER://h:3",
            ], "listeners", "at most one listener named in controller.listener.names")
        assertRefused(
            [
                "process.roles": "broker", "controller.quorum.voters": "1@h1:9093",
                "listeners": "PLAINTEXT://h:1,CONTROLLER://h:2",
            ], "listeners", "process.roles = broker has no controller")
        assertRefused(
            ["process.roles": "broker", "node.id": "1", "controller.quorum.voters": "1@h1:9093,2@h2:9093"],
            "controller.quorum.voters", "node.id 1 is a voter, but process.roles = broker does not vote")
    }

    func testListenerNamesAndTimeoutRefusals() {
        assertRefused(["listeners": "TLS://h:9092"], "listeners", "unknown listener name TLS", "PLAINTEXT://HOST:PORT")
        assertRefused(["listeners": "PLAIN TEXT://h:9092"], "listener name 'PLAIN TEXT'")
        assertRefused(["listeners": "CONTROLLER://h:9093"], "listeners", "at least one listener is required")
        assertRefused(["controller.listener.names": ""], "controller.listener.names", "not a listener name")
        assertRefused(["controller.listener.names": "A,a"], "controller.listener.names", "listed twice")
        assertRefused(
            ["controller.listener.names": "plaintext"], "controller.listener.names", "PLAINTEXT is a client listener")
        assertRefused(["controller.listener.names": "SSL"], "controller.listener.names", "SSL is a client listener")
        assertRefused(
            ["broker.heartbeat.interval.ms": "9000"], "broker.heartbeat.interval.ms",
            "must be below broker.session.timeout.ms")
        assertRefused(["broker.session.timeout.ms": "0"], "broker.session.timeout.ms", "outside")
        assertRefused(["controller.quorum.election.timeout.ms": "soon"], "not a whole number")
        assertRefused(["metadata.log.max.record.bytes.between.snapshots": "0"], "outside")
    }

    /// Syntax errors of the new keys name the file and line, as every other bad value does.
    func testBadVotersInAFileNameTheLine() throws {
        let directory = TemporaryDirectory("tern-config")
        defer { directory.remove() }
        let path = directory.path + "/ternd.conf"
        try "node.id = 1\ncontroller.quorum.voters = 1@h:9093,1@h:9094\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try BrokerConfig.load(file: path)) { error in
            XCTAssertTrue("\(error)".contains("\(path):2"), "\(error)")
            XCTAssertTrue("\(error)".contains("node id 1 appears twice"), "\(error)")
        }
    }

    func testEnvironmentVariablesSetTheClusterKeys() throws {
        let config = try BrokerConfig.load(
            file: nil,
            environment: [
                "TERN_PROCESS_ROLES": "broker", "TERN_NODE_ID": "3", "TERN_CONTROLLER_QUORUM_VOTERS": "1@h:9093",
            ])
        XCTAssertEqual(config.cluster.roles, [.broker])
        XCTAssertEqual(config.cluster.nodeId, 3)
        XCTAssertEqual(config.nodeId, 3)
        XCTAssertEqual(config.cluster.voters, [.init(nodeId: 1, host: "h", port: 9093)])
    }
}
