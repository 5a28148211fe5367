package envelope

// WriterChunkBuffers is the number of plaintext chunk buffers a Writer of a
// large record makes, for the memory tests of package envelope_test.
const WriterChunkBuffers = ringSize * groupChunks

// TakePooled takes a plaintext and a sealed chunk buffer from the pools the
// Writer and the Reader recycle their buffers through (the sealed one at its
// whole capacity); ReturnPooled gives them back.
func TakePooled() (plain, sealed []byte) {
	s := getSealed()
	return getPlain(), s[:cap(s)]
}

// ReturnPooled gives back buffers of TakePooled.
func ReturnPooled(plain, sealed []byte) {
	putPlain(plain)
	putSealed(sealed)
}
