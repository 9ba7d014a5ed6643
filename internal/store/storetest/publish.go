package storetest

// publishTests prove the batched publish path.
var publishTests = []conformanceTest{}
