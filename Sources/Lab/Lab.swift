// Room: Lab — layer 4 (above Engine). Scenario files (model and parser), the backends that run
// them (the simulator today; netns and qemu later), the timeline, expectations checked against
// captures, and reports (JUnit XML, Markdown, HTML with inline SVG).
