import CTernFuzzer

#if canImport(Glibc)
import Glibc
#endif

/// `tern-fuzz TARGET [libFuzzer options] [CORPUS…]`, `tern-fuzz --list`,
/// `tern-fuzz --write-seeds DIR`. Run through `scripts/fuzz.sh`.
enum FuzzMain {
    static func run() -> Never {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else { usage() }
        switch arguments[1] {
        case "--list":
            for target in FuzzTarget.all { print("\(target.name) \(target.maxLength) \(target.summary)") }
            exit(0)
        case "--write-seeds":
            guard arguments.count == 3 else { usage() }
            writeSeeds(into: arguments[2])
            exit(0)
        default:
            guard let target = FuzzTarget.all.first(where: { $0.name == arguments[1] }) else {
                printError("tern-fuzz: no target named '\(arguments[1])'; see --list")
                exit(2)
            }
            runFuzzer(target, arguments: [arguments[0]] + arguments.dropFirst(2))
        }
    }

    private static func usage() -> Never {
        printError("usage: tern-fuzz TARGET [libFuzzer options] [CORPUS...] | --list | --write-seeds DIR")
        exit(2)
    }

    /// Writes a line to standard error (through the descriptor: Glibc's `stderr` is a mutable global).
    private static func printError(_ message: String) {
        var line = message + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    private static func runFuzzer(_ target: FuzzTarget, arguments: [String]) -> Never {
        Selected.target = target
        if target.report != nil { atexit { if let report = Selected.target?.report { print(report()) } } }
        // libFuzzer keeps argv for the whole run: the copies are never freed.
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = Int32(arguments.count)
        let status = cArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                // libFuzzer passes a null pointer for the empty input.
                let input = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
                Selected.target?.run(input)
                return 0
            }
        }
        exit(status)
    }

    /// Writes every target's seeds to `DIR/<target>/<name>`.
    private static func writeSeeds(into directory: String) {
        for target in FuzzTarget.all {
            let folder = "\(directory)/\(target.name)"
            mkdir(directory, 0o755)
            mkdir(folder, 0o755)
            for seed in target.seeds() {
                precondition(seed.bytes.count <= target.maxLength, "\(target.name)/\(seed.name) exceeds -max_len")
                let path = "\(folder)/\(seed.name)"
                guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
                _ = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
            print("\(target.name): \(target.seeds().count) seeds")
        }
    }
}

/// The target this process runs. Written once in `runFuzzer` before libFuzzer starts, then only
/// read from libFuzzer's single fuzzing thread, so the unchecked global is never raced.
enum Selected {
    nonisolated(unsafe) static var target: FuzzTarget?
}
