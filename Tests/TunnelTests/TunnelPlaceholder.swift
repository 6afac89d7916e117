import Testing
@testable import Tunnel
