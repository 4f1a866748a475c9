using SessionMcp.McpServer.Cli;

return await CommandLine.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
