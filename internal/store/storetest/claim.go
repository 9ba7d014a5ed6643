package storetest

// claimTests prove how claims share the queue between endpoints.
var claimTests = []conformanceTest{}
