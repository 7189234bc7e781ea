using System.Diagnostics;

namespace Pipeline.Tests;

/// <summary>Runs the official ONNX checker (Debian's python3-onnx) on a model file and fails the test on any finding.</summary>
public static class OnnxChecker
{
    private const string Python = "/usr/bin/python3";
    private const int OnnxMissingExitCode = 42;

    private const string Script = """
        import sys
        try:
            import onnx
        except ImportError:
            sys.exit(42)
        onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    /// <summary>Checks the model at <paramref name="path"/> with <c>onnx.checker.check_model(full_check=True)</c>.</summary>
    public static void Check(string path)
    {
        const string install = "Install it with: apt-get install -y python3-onnx";
        if (!File.Exists(Python))
        {
            Assert.Fail($"The ONNX checker needs {Python} with the onnx module. {install}");
        }

        var startInfo = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(Script);
        startInfo.ArgumentList.Add(path);

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The ONNX checker did not finish within {Timeout}.");
        }

        if (process.ExitCode == OnnxMissingExitCode)
        {
            Assert.Fail($"{Python} has no onnx module. {install}");
        }

        if (process.ExitCode != 0)
        {
            Assert.Fail(
                $"The ONNX checker rejected {path} (exit code {process.ExitCode}):{Environment.NewLine}" +
                $"{stderr.Result}{stdout.Result}");
        }
    }
}
