export * from "./accounts";
export * from "./users";
export * from "./journeys";
export * from "./messages";
export * from "./segments";
export * from "./engine";
export * from "./extensions";
export * from "./analytics";
