import Foundation
import TernClient
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One of the package's example programs (`bank-account`, `order-saga`, `cqrs-read-model`)
/// running in the background: stdout and stderr go to files, stdin is a pipe. Killed by PID
/// when the test is done with it.
final class ExampleProcess {
    let name: String
    private let process = Process()
    private let input = Pipe()
    private let outputPath: String
    private let errorPath: String

    init(_ name: String, _ arguments: [String], directory: String) throws {
        self.name = name
        let unique = UUID().uuidString.prefix(8)
        outputPath = directory + "/\(name)-\(unique).out"
        errorPath = directory + "/\(name)-\(unique).err"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.path(name))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Waits (bounded) until stdout contains `text`.
    func waitForOutput(containing text: String, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !output.contains(text) {
            guard process.isRunning else {
                throw BrokerProcessError(
                    "\(name) exited (\(process.terminationStatus)) before printing '\(text)': \(output) \(errorOutput)")
            }
            guard Date() < deadline else {
                throw BrokerProcessError(
                    "\(name) did not print '\(text)' within \(timeout) s: \(output) \(errorOutput)")
            }
            usleep(20_000)
        }
    }

    func writeLine(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Waits (bounded) for the process to exit and returns its status; SIGKILL and throw on timeout.
    func waitForExit(timeout: TimeInterval = 120) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw BrokerProcessError("\(name) did not exit within \(timeout) s: \(output) \(errorOutput)")
            }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    /// Sends `signal` and waits (bounded) for the exit status.
    func signal(_ signal: Int32, timeout: TimeInterval = 60) throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return try waitForExit(timeout: timeout)
    }

    /// Stops the process with `signal` and reaps it.
    func stop(_ signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }

    deinit { stop(SIGKILL) }
}

/// Runs an example program to completion (bounded) against `broker`.
func runExample(_ name: String, _ arguments: [String], broker: BrokerProcess) throws -> CommandResult {
    try runCommand(Binaries.path(name), ["--bootstrap", broker.bootstrap] + arguments, timeout: 120)
}

/// Every record of every partition of `topic`, read with plain fetches (not the key index) from
/// the log start to the log end as of the call, in offset order per partition.
func readWholeTopic(_ client: TernClient, topic: String) async throws -> [ConsumerRecord] {
    let partitions = try await client.admin.describeTopic(name: topic).partitions
    let consumer = client.consumer(configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(50)))
    try await consumer.assign(topic: topic)
    try await consumer.seekToBeginning()
    var records: [ConsumerRecord] = []
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        var done = true
        for partition in partitions {
            let position = try await consumer.position(TopicPartition(topic: topic, partition: partition.partition))
            done = done && position >= partition.logEndOffset
        }
        if done {
            await consumer.close()
            return records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
        }
        records += try await consumer.poll(timeout: .milliseconds(200))
    }
    await consumer.close()
    throw BrokerProcessError("could not read \(topic) to its end within 60 s")
}

/// Decodes a record's JSON value as a dictionary.
func jsonObject(_ record: ConsumerRecord) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(record.value ?? []))
    return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(record)")
}
