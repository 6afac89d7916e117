import Testing
@testable import HostIO
