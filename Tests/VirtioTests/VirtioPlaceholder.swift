import Testing
@testable import Virtio
