using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Pipeline.Tests.Infrastructure;

/// <summary>What <c>./run-local.sh</c> starts: the local host over the build outputs of the functions app, the serving app and the trainer.</summary>
internal static class LocalHostProcess
{
    /// <summary>Starts it against <paramref name="connectionString"/>, serving on <paramref name="port"/>; its output (and its children's) goes to <paramref name="output"/>.</summary>
    public static Process Start(string connectionString, int port, StringBuilder output, params string[] settings) =>
        Start(connectionString, port, output, new Dictionary<string, string>(), settings);

    /// <summary>As above, with environment variables the host and the processes it starts (which inherit its environment) read.</summary>
    public static Process Start(string connectionString, int port, StringBuilder output, IReadOnlyDictionary<string, string> environment, params string[] settings)
    {
        var bin = Path.Combine(Repository.Root(), "artifacts", "bin");
        var configuration = Path.GetFileName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            Path.Combine(bin, "Pipeline.LocalHost", configuration, "Pipeline.LocalHost.dll"),
            $"--LocalHost:FunctionsAppPath={Path.Combine(bin, "Pipeline.Functions", configuration)}",
            $"--LocalHost:ServingAppPath={Path.Combine(bin, "Pipeline.Serving", configuration)}",
            $"--LocalHost:TrainerPath={Path.Combine(bin, "Pipeline.Trainer", configuration, "Pipeline.Trainer")}",
            $"--LocalHost:ServingPort={port.ToString(CultureInfo.InvariantCulture)}",
            $"--Storage:ConnectionString={connectionString}",
        }.Concat(settings))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var host = Process.Start(start)!;
        host.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        host.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        return host;
    }
}
