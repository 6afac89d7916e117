import Foundation
import Testing
import YAMLSchema
@testable import QEMU

/// Parses with every file present, relative paths taken from /vm.
private func parse(_ text: String, exists: @escaping (String) -> Bool = { _ in true }) throws(ConfigError) -> MachineConfig {
    try MachineConfig.parse(text, file: "machine.yml", baseDirectory: "/vm", fileExists: exists)
}

/// The error `text` fails with; records an issue when it parses.
private func failure(_ text: String, exists: @escaping (String) -> Bool = { _ in true }) -> ConfigError? {
    do {
        let config = try parse(text, exists: exists)
        Issue.record("parsed, expected an error: \(config)")
        return nil
    } catch { return error }
}

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Test func oathgateRunnerFileParsesUnchanged() throws {
    let path = repositoryRoot + "/fixtures/machines/oathgate-runner.yml"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let config = try MachineConfig.parse(text, file: path, fileExists: { _ in true })
    let dir = repositoryRoot + "/fixtures/machines"
    #expect(config.machineType == "q35")
    #expect(config.memoryMiB == 512)
    #expect(config.kernel == dir + "/vmlinux-6.1")
    #expect(config.disk == dir + "/debian.qcow")
    #expect(config.accel == .tcg && config.cpus == 1 && config.networks.isEmpty && config.console == .stdio)
}

@Test func extensionsAreRead() throws {
    let config = try parse("""
    machine:
      cpu: pc
      memory: 1g
      kernel: boot/vmlinuz
      initrd: /abs/initrd.img
      cmdline: console=ttyS0 quiet
      accel: kvm
      cpus: 4
      networks:
        - socket: /run/sluice/br0.sock
        - { socket: ../sockets/br1.sock, mac: 52:54:00:AB:CD:EF, queues: 4, reconnect: 0 }
      console: logs/console.log
      extra-args: [-no-reboot, -device, virtio-rng-pci]
    """)
    #expect(config.machineType == "pc")
    #expect(config.memoryMiB == 1024)
    #expect(config.kernel == "/vm/boot/vmlinuz")
    #expect(config.initrd == "/abs/initrd.img")
    #expect(config.cmdline == "console=ttyS0 quiet")
    #expect(config.accel == .kvm)
    #expect(config.cpus == 4)
    #expect(config.networks.count == 2)
    #expect(config.networks[0] == NetworkAttachment(socket: "/run/sluice/br0.sock"))
    #expect(config.networks[0].queues == 1 && config.networks[0].reconnect == 1)
    #expect(config.networks[1].socket == "/sockets/br1.sock")
    #expect(config.networks[1].mac == "52:54:00:ab:cd:ef")
    #expect(config.networks[1].queues == 4 && config.networks[1].reconnect == 0)
    #expect(config.console == .file("/vm/logs/console.log"))
    #expect(config.extraArgs == ["-no-reboot", "-device", "virtio-rng-pci"])
}

@Test(arguments: [("512m", 512), ("512M", 512), ("1g", 1024), ("2G", 2048), ("256MiB", 256), ("1GiB", 1024), ("768mb", 768), ("4096", 4096)])
func memorySizes(text: String, mib: Int) throws {
    #expect(try parse("machine: { kernel: k, memory: \(text) }").memoryMiB == mib)
}

@Test(arguments: ["12m", "0", "-1g", "lots", "1.5g", "2t", "m", "2000g"])
func badMemorySizesAreLocated(text: String) throws {
    let e = try #require(failure("machine:\n  kernel: k\n  memory: \(text)\n"))
    #expect(e.line == 3 && e.column == 11)
    #expect(e.message.hasPrefix("machine.memory: "))
    #expect(e.fix != nil)
}

@Test func defaultMACsDifferBySocketAndAreLocallyStable() throws {
    let a = NetworkAttachment(socket: "/run/a.sock"), b = NetworkAttachment(socket: "/run/b.sock")
    #expect(a.mac != b.mac)
    #expect(a.mac == NetworkAttachment(socket: "/run/a.sock").mac)
    #expect(a.mac.hasPrefix("52:54:00:") && normalizedMAC(a.mac) == a.mac)
}

@Test func unknownKeySuggestsTheRightOne() throws {
    let e = try #require(failure("machine:\n  kernel: k\n  memroy: 1g\n"))
    #expect(e.description.hasPrefix("machine.yml:3:3: error: machine: unknown key 'memroy'"))
    #expect(e.fix?.contains("did you mean 'memory'?") == true)
}

@Test func missingMachineSectionIsNamed() throws {
    let e = try #require(failure("kernel: k\n"))
    #expect(e.message.contains("unknown key 'kernel'"))
    let e2 = try #require(failure("{}\n"))
    #expect(e2.message.contains("missing required key 'machine'"))
}

@Test func missingKernelFileIsLocatedAndResolved() throws {
    let e = try #require(failure("machine:\n  cpu: q35\n  kernel: ./vmlinuz\n", exists: { $0 != "/vm/vmlinuz" }))
    #expect(e.line == 3 && e.column == 11)
    #expect(e.message == "machine.kernel: no file at /vm/vmlinuz")
    #expect(e.fix?.contains("machine file's directory (/vm)") == true)
}

@Test func initrdAndCmdlineNeedAKernel() throws {
    let e = try #require(failure("machine:\n  disk: d.img\n  cmdline: quiet\n"))
    #expect(e.line == 3 && e.message.contains("cmdline needs a kernel"))
    let e2 = try #require(failure("machine:\n  disk: d.img\n  initrd: i\n"))
    #expect(e2.line == 3 && e2.message.contains("initrd needs a kernel"))
}

@Test func somethingMustBootable() throws {
    let e = try #require(failure("machine:\n  cpu: q35\n  memory: 1g\n"))
    #expect(e.line == 2 && e.message.contains("nothing to boot"))
}

@Test func badValuesAreLocated() throws {
    let cases: [(String, Int, String)] = [
        ("  accel: hvf\n", 3, "unknown accelerator 'hvf'"),
        ("  cpu: q35,accel=kvm\n", 3, "accelerator is not part of cpu"),
        ("  cpu: 'q 35'\n", 3, "is not a QEMU machine type"),
        ("  cpus: 0\n", 3, "out of range"),
        ("  extra-args: -no-reboot\n", 3, "expected a list of arguments"),
        ("  networks:\n    - { mac: 52:54:00:00:00:01 }\n", 4, "missing required key 'socket'"),
        ("  networks:\n    - { socket: /s, mac: 01:00:5e:00:00:01 }\n", 4, "not a unicast MAC"),
        ("  networks:\n    - { socket: /s, mac: 52:54:00:00:01 }\n", 4, "not a unicast MAC"),
        ("  networks:\n    - { socket: /s, queues: 17 }\n", 4, "out of range"),
        ("  networks:\n    - { socket: /s }\n    - { socket: /s }\n", 5, "used by an earlier network"),
        ("  networks:\n    - { socket: /a, mac: 52:54:00:00:00:01 }\n    - { socket: /b, mac: 52:54:00:00:00:01 }\n", 5, "also used by the network on /a"),
        ("  networks:\n    - { socket: /\(String(repeating: "x", count: 120)) }\n", 4, "a Unix socket path has at most 107"),
        ("  networks:\n    - { socket: /s, speed: 10g }\n", 4, "unknown key 'speed'"),
    ]
    for (tail, line, message) in cases {
        let e = try #require(failure("machine:\n  kernel: k\n" + tail), "\(tail)")
        #expect(e.line == line, "\(tail) → \(e)")
        #expect(e.message.contains(message), "\(tail) → \(e)")
    }
}

@Test func consoleLogNeedsAnExistingDirectory() throws {
    let ok = try parse("machine: { kernel: k, console: /var/log/vm.log }", exists: { $0 != "/nope" })
    #expect(ok.console == .file("/var/log/vm.log"))
    let e = try #require(failure("machine: { kernel: k, console: /nope/vm.log }", exists: { $0 != "/nope" }))
    #expect(e.message.contains("no directory /nope"))
    #expect(try parse("machine: { kernel: k, console: stdio }").console == .stdio)
}

@Test func yamlSyntaxErrorsAreLocated() throws {
    let e = try #require(failure("machine:\n  kernel: [k\n  memory: 1g\n"))
    #expect(e.line >= 2 && e.message.hasPrefix("YAML syntax"))
}

@Test func docsExampleParses() throws {
    let doc = try String(contentsOfFile: repositoryRoot + "/docs/machine.md", encoding: .utf8)
    let start = try #require(doc.range(of: "```yaml\n"))
    let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
    let config = try parse(String(doc[start.upperBound..<end.lowerBound]))
    #expect(config.cpus == 2 && config.networks.count == 1 && config.networks[0].queues == 4)
    let command = QEMUCommandLine(machine: config).shellCommand
    // The listing in the doc, with its elided paths filled in.
    var listing = doc[doc.range(of: "```\nqemu-system-x86_64")!.lowerBound...].dropFirst(4)
    listing = listing[..<listing.range(of: "```")!.lowerBound]
    let expected = listing.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        .replacingOccurrences(of: "…/", with: "/vm/")
    #expect(command == expected)
}
