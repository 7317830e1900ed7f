/**
 * The loopback Getui RestAPI v2 server lives with the example it tests (extensions/getui/test),
 * so a developer who copies the folder gets it too; app-level tests import it from here.
 */
export * from "../../extensions/getui/test/fake-getui";
