using SessionMcp.McpServer.Cli;

// Before any regular expression exists: none may run unbounded. Sessions write files the server matches patterns
// against (their .gitignore files, through MAB.DotIgnore's backtracking expressions), and a pathological pattern on a
// long name would otherwise keep a core busy for hours; history drops a pattern that times out (IgnoreRules).
AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", TimeSpan.FromMilliseconds(200));

return await CommandLine.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
