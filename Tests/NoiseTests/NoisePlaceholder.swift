import Testing
@testable import Noise
