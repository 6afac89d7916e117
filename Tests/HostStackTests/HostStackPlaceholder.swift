import Testing
@testable import HostStack
