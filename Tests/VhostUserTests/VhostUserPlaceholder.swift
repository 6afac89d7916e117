import Testing
@testable import VhostUser
