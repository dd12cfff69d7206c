import Foundation
import TernClient

/// An event-sourced bank account on Tern: each command loads the account's events by key
/// (through the topic's key index), folds them into the current state, decides, and appends
/// the new event only if the account's last event is still the one it read. When another writer
/// got there first, it reloads and decides again, so the balance never goes negative.
///
///     bank-account [--bootstrap HOST:PORT] [--topic bank-accounts] [--confirm] open|deposit|withdraw|show ACCOUNT [AMOUNT]
///
/// Exit status: 0 done, 2 refused by the account's rules (e.g. insufficient funds), 1 error.
@main
struct BankAccount {
    static let usage =
        "usage: bank-account [--bootstrap HOST:PORT] [--topic NAME] [--confirm] open|deposit|withdraw|show ACCOUNT [AMOUNT]"

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let bootstrap = option("--bootstrap", in: &arguments) ?? "127.0.0.1:9092"
        let topic = option("--topic", in: &arguments) ?? "bank-accounts"
        let confirm = flag("--confirm", in: &arguments)
        let command: Command?  // nil: show
        switch (arguments.first, arguments.count, arguments.last.flatMap { Int($0) }) {
        case ("open", 2, _): command = .open
        case ("deposit", 3, let amount?): command = .deposit(amount)
        case ("withdraw", 3, let amount?): command = .withdraw(amount)
        case ("show", 2, _): command = nil
        default: fail(usage, status: 64)
        }
        let accountId = arguments[1]
        do {
            let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [bootstrap]))
            try await createTopicIfMissing(client, topic: topic)
            let store = AccountStore(client: client, topic: topic)
            if let command {
                try await store.handle(command, account: accountId, confirm: confirm)
            } else {
                try await store.show(accountId)
            }
            await store.close()
        } catch let rejection as Rejection {
            fail("rejected: \(rejection.reason)", status: 2)
        } catch {
            fail("bank-account: error: \(error)", status: 1)
        }
    }

    /// Event stores need the key index: it serves the reads by key and the key conditions.
    static func createTopicIfMissing(_ client: TernClient, topic: String) async throws {
        do {
            try await client.admin.createTopic(name: topic, partitions: 3, configs: ["key.index.enable": "true"])
        } catch let error as TernError where error.brokerError == .topicAlreadyExists {
            // Created earlier (or by a concurrent command): fine.
        }
    }
}

/// Loads accounts from their events and appends new ones conditionally.
struct AccountStore {
    let client: TernClient
    let topic: String
    let producer: TernProducer

    init(client: TernClient, topic: String) {
        self.client = client
        self.topic = topic
        producer = client.producer()  // acks=all: an acknowledged event is on disk
    }

    /// Reads the account's events (only its own, via the key index) and folds them.
    func load(_ id: String) async throws -> (Account, [(offset: Int64, event: AccountEvent)]) {
        var account = Account(id: id)
        var history: [(offset: Int64, event: AccountEvent)] = []
        for try await record in client.records(topic: topic, key: id) {
            let event = try JSONDecoder().decode(AccountEvent.self, from: Data(record.value ?? []))
            account.apply(event, offset: record.offset)
            history.append((record.offset, event))
        }
        return (account, history)
    }

    /// Load, decide, append on condition; on a conflict, load again and decide again.
    func handle(_ command: Command, account id: String, confirm: Bool) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for attempt in 1...100 {
            let (account, _) = try await load(id)
            let event = try account.decide(command)
            if confirm && attempt == 1 {
                // Lets two terminals race on purpose: load in both, then press return in each.
                say(
                    "loaded \(id): balance \(account.balance), last event at offset \(account.lastOffset);"
                        + " press return to append \(event.type.rawValue)")
                _ = readLine()
            }
            do {
                let stored = try await producer.send(
                    topic: topic, key: Array(id.utf8), value: Array(try encoder.encode(event)),
                    condition: account.lastOffset < 0 ? .keyAbsent : .keyLastOffset(account.lastOffset))
                var after = account
                after.apply(event, offset: stored.offset)
                say("\(event.type.rawValue) \(id) \(event.amount) at offset \(stored.offset): balance \(after.balance)")
                return
            } catch let error as TernError where error.code == .conditionFailed {
                // Someone appended to this account since we loaded it: our decision may be stale.
                say("conflict: \(id) has a newer event at offset \(error.actualOffset ?? -1); reloading")
            }
        }
        throw TernError(.timedOut, "gave up on \(id) after 100 conflicts")
    }

    /// Prints the account's history and balance.
    func show(_ id: String) async throws {
        let (account, history) = try await load(id)
        for (offset, event) in history {
            say("offset \(offset): \(event.type.rawValue) \(event.amount) (version \(event.version))")
        }
        say("\(id): balance \(account.balance), \(history.count) events")
    }

    func close() async {
        await producer.close()
        await client.close()
    }
}

/// Removes `name VALUE` from `arguments` and returns VALUE.
func option(_ name: String, in arguments: inout [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...index + 1) }
    return arguments[index + 1]
}

/// Removes `name` from `arguments` and says whether it was there.
func flag(_ name: String, in arguments: inout [String]) -> Bool {
    guard let index = arguments.firstIndex(of: name) else { return false }
    arguments.remove(at: index)
    return true
}

/// Prints a line at once, even when stdout is a pipe or a file (where `print` buffers).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}
