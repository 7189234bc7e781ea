using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Sockets;
using Pipeline.Cli;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Cli;

/// <summary>What one run of the tool printed and returned.</summary>
public sealed record CliRun(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>
/// Runs <c>pipeline</c> in this process (<see cref="CliApp.RunAsync"/>) against this test run's Azurite, with its output
/// captured and an environment of its own (never the process's: tests must not see a developer's PIPELINE_KEY).
/// </summary>
public static class CliTestHost
{
    public static async Task<CliRun> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var host = new CliHost
        {
            Out = output,
            Error = error,
            Environment = name => environment?.GetValueOrDefault(name),
            PollInterval = TimeSpan.FromMilliseconds(250),
        };
        var code = await CliApp.RunAsync(args, host, TestContext.Current.CancellationToken);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>The tool with <c>--connection-string</c> for Azurite added.</summary>
    public static Task<CliRun> StorageAsync(params string[] args) => RunAsync([.. args, "--connection-string", Azurite.ConnectionString]);
    /// <summary>Azurite's well-known development account (public, documented by Microsoft), with its blob endpoint on a closed port.</summary>
    public static string UnreachableConnectionString() =>
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        $"BlobEndpoint=http://127.0.0.1:{Ports.Free()}/devstoreaccount1;";
}

/// <summary>
/// The serving app over real HTTP (Kestrel on 127.0.0.1, a free port), as the tool reaches it: the in-memory test
/// server has no socket to connect to. Against this run's Azurite, with <see cref="ServingAppFactory.FunctionKey"/>.
/// </summary>
public sealed class KestrelServing : IAsyncDisposable
{
    private readonly ServingAppFactory _app;

    public KestrelServing()
    {
        _app = new ServingAppFactory();
        _app.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app.StartServer();
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        Url = address.TrimEnd('/');
    }

    public string Url { get; }

    /// <summary>The tool against Azurite and this serving app, with its function key.</summary>
    public Task<CliRun> RunAsync(params string[] args) =>
        CliTestHost.RunAsync([.. args, "--connection-string", Azurite.ConnectionString, "--serving-url", Url, "--key", ServingAppFactory.FunctionKey]);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
