package envelope

// WriterChunkBuffers is the number of plaintext chunk buffers a Writer of a
// large record makes, for the memory tests of package envelope_test.
const WriterChunkBuffers = ringSize * groupChunks
