// Room: Noise — layer 2. The Noise protocol framework (rev 34): a generic handshake state machine over Crypto
// (patterns IK, IKpsk2, XX, IX, ...), checked against the cacophony vectors. Sans-IO: bytes in, bytes out.
