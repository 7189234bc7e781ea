using System.Diagnostics;
using System.Reflection;

namespace Pipeline.Infra.Tests;

/// <summary>Runs the Bicep CLI restored from the Azure.Bicep.CommandLine.linux-x64 NuGet package.</summary>
internal static class BicepCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Path of the bicep executable, baked in at build time from the restored package folder.</summary>
    public static string ExecutablePath
    {
        get
        {
            var path = typeof(BicepCli).Assembly
                .GetCustomAttributes<AssemblyMetadataAttribute>()
                .SingleOrDefault(attribute => attribute.Key == "BicepCliPath")?.Value;
            if (string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                throw new InvalidOperationException(
                    $"Bicep CLI not found at '{path}'. It comes from the NuGet package Azure.Bicep.CommandLine.linux-x64 " +
                    "referenced by tests/Pipeline.Infra.Tests; run 'dotnet restore tests/Pipeline.Infra.Tests' and rebuild.");
            }

            EnsureExecutable(path);
            return path;
        }
    }

    public static BicepResult Run(params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start '{startInfo.FileName}'.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within {Timeout}.");
        }

        return new BicepResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static void EnsureExecutable(string path)
    {
        // The package is the linux-x64 build of the CLI; this project only runs on Linux.
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The restored Bicep CLI (Azure.Bicep.CommandLine.linux-x64) runs on Linux only.");
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute);
        }
    }
}

internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => StandardOutput + StandardError;
}
