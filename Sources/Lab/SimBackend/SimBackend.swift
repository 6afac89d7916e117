// The `sim` backend: a scenario run in process on a virtual clock — the real Engine bridges,
// simulated HostStack guests on in-memory virtio NICs, Sim link models — then its expectations
// evaluated against the pcaps it wrote.
import Basics
import Foundation
import Sim

/// Runs scenarios in the simulator.
public enum SimBackend {
    /// Runs `scenario` with `seed`, writing its captures under `captureDirectory`, and evaluates
    /// its expectations. Never throws: a run that cannot start or breaks off is a `.error` run.
    public static func run(_ scenario: Scenario, seed: UInt64, captureDirectory: String) -> LabRun {
        let clock = ContinuousClock()
        let began = clock.now
        var run = LabRun(scenario, seed: seed, backend: .sim)
        if let mesh = scenario.mesh {
            // Mesh nodes: the engines on a simulated underlay (Sources/Lab/Mesh).
            do {
                run = try MeshScenarioRun(scenario, mesh: mesh, seed: seed).run().0
            } catch {
                run.status = .error("the mesh simulation stopped: \(error)")
            }
            run.wallTime = clock.now - began
            return run
        }
        do {
            let topology = try SimTopology(scenario, seed: seed, captureDirectory: captureDirectory)
            let output = try SimScenarioRun(scenario, topology: topology).run()
            run.record(output, of: scenario)
        } catch let error as SimSetupError {
            run.status = .error("could not build the topology: \(error)")
        } catch let error as SimulationError {
            run.status = .error("the simulation stopped: \(error)")
        } catch {
            run.status = .error("\(error)")
        }
        run.wallTime = clock.now - began
        return run
    }
}
