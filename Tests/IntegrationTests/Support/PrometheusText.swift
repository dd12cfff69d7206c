/// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every
/// line must be a `# HELP`, a `# TYPE`, another comment, a blank line or a sample
/// `name{label="value",…} value [timestamp]`; each sample's family must have been typed before it,
/// a family typed only once, and a histogram's buckets cumulative, ending in `+Inf` = `_count`.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    private(set) var samples: [Sample] = []
    private(set) var types: [String: String] = [:]
    private(set) var help: [String: String] = [:]

    init(_ text: String) throws {
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(raw)
            if line.isEmpty { continue }
            func fail(_ reason: String) -> ParseError { ParseError(line: lineNumber, reason: "\(reason): \(line)") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[1] == "HELP" || parts[1] == "TYPE" else { continue }  // a plain comment
                guard Self.isMetricName(parts[2]) else { throw fail("bad metric name") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                    else {
                        throw fail("bad TYPE line")
                    }
                    guard types[parts[2]] == nil else { throw fail("second TYPE for \(parts[2])") }
                    guard !samples.contains(where: { Self.family(of: $0.name, types) == parts[2] }) else {
                        throw fail("TYPE after samples of \(parts[2])")
                    }
                    types[parts[2]] = parts[3]
                } else {
                    guard help[parts[2]] == nil else { throw fail("second HELP for \(parts[2])") }
                    help[parts[2]] = parts.count == 4 ? parts[3] : ""
                }
                continue
            }
            var cursor = Substring(line)
            let name = String(cursor.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            guard Self.isMetricName(name) else { throw fail("bad sample name") }
            cursor = cursor.dropFirst(name.count)
            var labels: [String: String] = [:]
            if cursor.first == "{" {
                cursor = cursor.dropFirst()
                while cursor.first != "}" {
                    let label = String(cursor.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                    guard Self.isLabelName(label) else { throw fail("bad label name") }
                    cursor = cursor.dropFirst(label.count)
                    guard cursor.hasPrefix("=\"") else { throw fail("expected =\" after \(label)") }
                    cursor = cursor.dropFirst(2)
                    var value = ""
                    while true {
                        guard let c = cursor.first else { throw fail("unterminated label value") }
                        cursor = cursor.dropFirst()
                        if c == "\"" { break }
                        if c == "\\" {
                            guard let escaped = cursor.first else { throw fail("dangling escape") }
                            cursor = cursor.dropFirst()
                            switch escaped {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw fail("bad escape \\\(escaped)")
                            }
                        } else {
                            value.append(c)
                        }
                    }
                    guard labels[label] == nil else { throw fail("duplicate label \(label)") }
                    labels[label] = value
                    if cursor.first == "," {
                        cursor = cursor.dropFirst()
                    } else if cursor.first != "}" {
                        throw fail("expected , or }")
                    }
                }
                cursor = cursor.dropFirst()
            }
            guard cursor.first == " " else { throw fail("expected a space before the value") }
            let fields = cursor.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 1 || (fields.count == 2 && Int64(fields[1]) != nil) else {
                throw fail("bad value field")
            }
            let value: Double
            switch fields[0] {
            case "+Inf": value = .infinity
            case "-Inf": value = -.infinity
            case "NaN": value = .nan
            default:
                guard let number = Double(fields[0]) else { throw fail("value is not a number") }
                value = number
            }
            guard let family = Self.family(of: name, types) else { throw fail("sample of an untyped family") }
            if types[family] == "histogram" && name.hasSuffix("_bucket") && labels["le"] == nil {
                throw fail("histogram bucket without le")
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        try checkHistograms()
    }

    /// The value of the sample `name` with exactly `labels`, or nil.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum of every sample of `name` whose labels include `matching`.
    func sum(_ name: String, matching: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && matching.allSatisfy { s.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    private func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            var series: [[String: String]: [(Double, Double)]] = [:]
            for s in samples where s.name == family + "_bucket" {
                var key = s.labels
                guard let le = key.removeValue(forKey: "le"), let bound = le == "+Inf" ? .infinity : Double(le) else {
                    throw ParseError(line: 0, reason: "\(family): bad le")
                }
                series[key, default: []].append((bound, s.value))
            }
            for (labels, buckets) in series {
                let sorted = buckets.sorted { $0.0 < $1.0 }
                for i in sorted.indices.dropFirst() where sorted[i].1 < sorted[i - 1].1 {
                    throw ParseError(line: 0, reason: "\(family)\(labels): buckets are not cumulative")
                }
                guard let last = sorted.last, last.0 == .infinity else {
                    throw ParseError(line: 0, reason: "\(family)\(labels): no +Inf bucket")
                }
                guard value(family + "_count", labels) == last.1, value(family + "_sum", labels) != nil else {
                    throw ParseError(
                        line: 0, reason: "\(family)\(labels): _count differs from the +Inf bucket or _sum is missing")
                }
            }
        }
    }

    /// The family a sample belongs to: its own name, or for histograms and summaries the name
    /// without `_bucket`/`_sum`/`_count`.
    private static func family(of name: String, _ types: [String: String]) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || type == "summary" { return base }
        }
        return nil
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII,
            first.properties.isAlphabetic || first == "_" || first == ":"
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == ":")
        }
    }

    private static func isLabelName(_ name: String) -> Bool {
        isMetricName(name) && !name.contains(":")
    }
}
