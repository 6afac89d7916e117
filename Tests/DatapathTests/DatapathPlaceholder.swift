import Testing
@testable import Datapath
