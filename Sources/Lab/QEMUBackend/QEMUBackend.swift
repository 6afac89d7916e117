import Basics

public enum QEMUBackend {
    public static func run(_ scenario: Scenario, seed: UInt64, captureDirectory: String) -> LabRun {
        LabRun(scenarioName: scenario.name, scenarioFile: scenario.file, description: scenario.description,
               seed: seed, backend: LabBackend.qemu.rawValue, status: .error("not yet"))
    }
}
