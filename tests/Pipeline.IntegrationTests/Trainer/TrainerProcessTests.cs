using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Contracts;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;
using Pipeline.Trainer.Runs;

namespace Pipeline.Tests.Trainer;

/// <summary>The trainer as a real process: killed mid-job it leaves no half-published model, and the next attempt completes.</summary>
public class TrainerProcessTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A 3,000-row upload preprocessed into a training request, written as the job file a trainer process is given.</summary>
    private sealed record PreparedJob(string Name, string RunId, string JobFile, TempDirectory Directory) : IDisposable
    {
        public void Dispose() => Directory.Dispose();
    }

    private static async Task<PreparedJob> PrepareJobAsync(PreprocessingApp app, string prefix, int seed, CancellationToken cancellation)
    {
        var blobs = Azurite.Blobs();
        var name = Azurite.UniqueName(prefix);
        await blobs.GetBlobContainerClient(StorageNames.RawContainer).CreateIfNotExistsAsync(cancellationToken: cancellation);
        var (csv, _) = SyntheticData.ThreeClass(3000, seed);
        await blobs.GetBlobContainerClient(StorageNames.RawContainer).UploadBlobAsync($"{name}/data.csv", BinaryData.FromString(csv), cancellation);
        var reply = await Invocations.PreprocessAsync(app, $"{name}/data.csv");
        var request = reply.TrainRequest ?? throw new InvalidOperationException($"Preprocess returned no training request: {reply}");
        var directory = new TempDirectory();
        var jobFile = directory.File("job.json");
        await File.WriteAllTextAsync(jobFile, JsonSerializer.Serialize(request, PipelineJson.Default.TrainRequest), cancellation);
        return new PreparedJob(name, RunIds.For(request), jobFile, directory);
    }

    private static Process Start(string jobFile, params (string Key, string Value)[] settings)
    {
        var start = new ProcessStartInfo(TrainerExecutable.Path())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--job");
        start.ArgumentList.Add(jobFile);
        start.Environment["Storage__ConnectionString"] = Azurite.ConnectionString;
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start)!;
    }

    [Fact]
    public async Task KilledMidJob_LeavesNoPublishedModel_AndTheNextAttemptCompletes()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var blobs = Azurite.Blobs();
        await using var app = new PreprocessingApp();
        using var job = await PrepareJobAsync(app, "killed", seed: 8, cancellation);
        var (name, jobFile) = (job.Name, job.JobFile);
        var request = JsonSerializer.Deserialize(await File.ReadAllTextAsync(jobFile, cancellation), PipelineJson.Default.TrainRequest)!;

        // Attempt 1: far more epochs than it will live for; killed while it trains.
        using (var doomed = Start(jobFile, ("Trainer__MaxEpochs", "100000"), ("Trainer__Patience", "10000")))
        {
            var output = Capture(doomed);
            await Task.Delay(TimeSpan.FromSeconds(10), cancellation);
            lock (output)
            {
                Assert.False(doomed.HasExited, $"the trainer ended before it could be killed:\n{output}");
            }

            doomed.Kill(entireProcessTree: true);
            await doomed.WaitForExitAsync(cancellation);
        }

        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellation);
        Assert.False((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).ExistsAsync(cancellation)).Value);
        Assert.Empty(await models.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = name + "/" }, cancellation).ToListAsync(cancellation));

        // Attempt 2 completes and publishes: manifest, model and the pointer to them.
        using var retry = Start(jobFile, ("Trainer__MaxEpochs", "20"));
        var outputTask = retry.StandardOutput.ReadToEndAsync(cancellation);
        var errors = await retry.StandardError.ReadToEndAsync(cancellation);
        var retryOutput = await outputTask;
        await retry.WaitForExitAsync(cancellation);
        Assert.True(retry.ExitCode == 0, $"exit {retry.ExitCode}: {errors}\n{retryOutput}");

        var pointer = JsonNode.Parse((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).DownloadContentAsync(cancellation)).Value.Content.ToString())!;
        var version = pointer["version"]!.GetValue<string>();
        Assert.Equal(request.DatasetVersion, version);
        Assert.True((await models.GetBlobClient($"{name}/{version}/{StorageNames.ModelFile}").ExistsAsync(cancellation)).Value);
        Assert.True((await models.GetBlobClient(StorageNames.ModelManifestPath(name, version)).ExistsAsync(cancellation)).Value);
    }

    /// <summary>
    /// SIGKILL gives the job no time to save anything: the checkpoints it took while it ran (after finished trials, at most
    /// every Trainer:CheckpointInterval) are what the next attempt resumes from, so it runs only the trials not yet saved.
    /// </summary>
    [Fact]
    public async Task Sigkill_AfterSomeTrials_TheNextAttemptResumesTheFinishedTrials()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var blobs = Azurite.Blobs();
        await using var app = new PreprocessingApp();
        using var job = await PrepareJobAsync(app, "sigkill", seed: 10, cancellation);
        var (name, runId, jobFile) = (job.Name, job.RunId, job.JobFile);
        (string, string)[] settings =
        [
            ("Trainer__MaxTrials", "8"), ("Trainer__MaxEpochs", "25"), ("Trainer__MaxSeconds", "600"), ("Trainer__MaxTrialShare", "1"),
            ("Trainer__EnsembleSize", "1"), ("Trainer__CheckpointInterval", "00:00:01"), ("Trainer__StatusInterval", "00:00:00.300"),
        ];
        var runs = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        var statusBlob = runs.GetBlobClient(StorageNames.RunStatusPath(runId));
        RunStatus? reached;
        using (var doomed = Start(jobFile, settings))
        {
            var output = Capture(doomed);
            // Killed once the search is past its fourth trial and a checkpoint has been written: when trials are quick,
            // the checkpoint (at most every second, one upload at a time) may lag the search by a trial or two.
            var deadline = Stopwatch.StartNew();
            var checkpointBlob = runs.GetBlobClient(StorageNames.RunCheckpointPath(runId));
            while ((reached = (await BlobJson.ReadAsync(statusBlob, PipelineJson.Default.RunStatus, cancellation))?.Value) is not { Stage: "searching", Trial: >= 5 }
                || !(await checkpointBlob.ExistsAsync(cancellation)).Value)
            {
                lock (output)
                {
                    Assert.False(doomed.HasExited, $"the trainer ended before it could be killed:\n{output}");
                }

                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(120), $"the search did not reach its fifth trial with a checkpoint:\n{output}");
                await Task.Delay(100, cancellation);
            }

            doomed.Kill(entireProcessTree: true); // SIGKILL
            await doomed.WaitForExitAsync(cancellation);
        }

        var checkpoint = JsonNode.Parse((await runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).DownloadContentAsync(cancellation)).Value.Content.ToString())!;
        var saved = checkpoint["completed"]!.AsArray().Count;
        Assert.InRange(saved, 1, reached!.Trial - 1); // finished trials only; never the one that was running
        Assert.Null(checkpoint["current"]);

        using var second = Start(jobFile, settings);
        var secondOutput = Capture(second);
        using (var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
        {
            finished.CancelAfter(TimeSpan.FromSeconds(120));
            await second.WaitForExitAsync(finished.Token);
        }

        lock (secondOutput)
        {
            Assert.True(second.ExitCode == 0, $"exit {second.ExitCode}:\n{secondOutput}");
            Assert.Contains($"resuming from a checkpoint ({saved} trials done", secondOutput.ToString(), StringComparison.Ordinal);
            var trialsRun = System.Text.RegularExpressions.Regex.Matches(secondOutput.ToString(), "Trial ([0-9]+)/").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.NotEmpty(trialsRun);
            Assert.True(trialsRun.Min() > saved, $"the second attempt ran trial {trialsRun.Min()} again:\n{secondOutput}");
        }

        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        var version = JsonNode.Parse((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).DownloadContentAsync(cancellation)).Value.Content.ToString())!["version"]!.GetValue<string>();
        var manifest = (await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(name, version)), PipelineJson.Default.ModelManifest, cancellation))!.Value.Value;
        Assert.Equal(8, manifest.Search!.Trials.Count);
        Assert.False((await runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).ExistsAsync(cancellation)).Value);
    }

    /// <summary>
    /// The trainer-kill run of the fault suite: one request is trained uninterrupted to measure how long a job takes here;
    /// then each request's first attempt is SIGKILLed at a random moment (seeded) within that duration — searching,
    /// exporting, quantizing or publishing — and the next attempt completes it. Each
    /// request must end with exactly one published version, current.json on it and no checkpoint left; the work lost to
    /// the kill (the run's elapsed seconds at the kill minus those its last checkpoint saved) must stay under 60 s. CI
    /// kills one request; <c>bash bench/faults/run.sh trainer-kills 20</c> kills 20 and writes the figures to
    /// <c>TRAINER_KILLS_REPORT</c>.
    /// </summary>
    [Fact]
    public async Task Sigkill_AtRandomMoments_EachRequestPublishesOnce_AndLosesLittleWork()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var kills = int.TryParse(Environment.GetEnvironmentVariable("TRAINER_KILLS"), System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
        var random = new Random(2026);
        var blobs = Azurite.Blobs();
        var runs = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        await using var app = new PreprocessingApp();
        var jobDuration = await MeasureJobAsync(app, cancellation);
        var results = new List<object>();
        for (var k = 0; k < kills; k++)
        {
            using var job = await PrepareJobAsync(app, "kills", seed: 100 + k, cancellation);
            var (name, runId, jobFile) = (job.Name, job.RunId, job.JobFile);
            var statusBlob = runs.GetBlobClient(StorageNames.RunStatusPath(runId));
            var killAfter = TimeSpan.FromSeconds(1 + (random.NextDouble() * Math.Max(1, (jobDuration.TotalSeconds * 0.95) - 1)));

            RunStatus? atKill;
            bool killed;
            using (var doomed = Start(jobFile, ("Trainer__StatusInterval", "00:00:00.300")))
            {
                var output = Capture(doomed);
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                timer.CancelAfter(killAfter);
                try
                {
                    await doomed.WaitForExitAsync(timer.Token);
                }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                }

                atKill = (await BlobJson.ReadAsync(statusBlob, PipelineJson.Default.RunStatus, cancellation))?.Value;
                killed = !doomed.HasExited;
                if (killed)
                {
                    doomed.Kill(entireProcessTree: true); // SIGKILL
                    await doomed.WaitForExitAsync(cancellation);
                }
                else
                {
                    lock (output)
                    {
                        Assert.True(doomed.ExitCode == 0, $"exit {doomed.ExitCode}:\n{output}");
                    }
                }
            }

            var checkpointBlob = runs.GetBlobClient(StorageNames.RunCheckpointPath(runId));
            var checkpoint = (await checkpointBlob.ExistsAsync(cancellation)).Value
                ? JsonNode.Parse((await checkpointBlob.DownloadContentAsync(cancellation)).Value.Content.ToString())
                : null;
            var savedSeconds = checkpoint?["elapsedSeconds"]?.GetValue<double>() ?? 0;
            var searchedSeconds = atKill?.ElapsedSeconds ?? 0;
            var lost = atKill?.Stage == "searching" ? Math.Max(0, searchedSeconds - savedSeconds) : 0;

            using (var retry = Start(jobFile))
            {
                var output = Capture(retry);
                using var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                finished.CancelAfter(TimeSpan.FromSeconds(180));
                await retry.WaitForExitAsync(finished.Token);
                lock (output)
                {
                    Assert.True(retry.ExitCode == 0, $"exit {retry.ExitCode}:\n{output}");
                }
            }

            var versions = (await models.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = name + "/" }, cancellation).ToListAsync(cancellation))
                .Where(b => b.Name.EndsWith("/" + StorageNames.ManifestFile, StringComparison.Ordinal)).ToList();
            var version = Assert.Single(versions).Name.Split('/')[1];
            Assert.Equal(version, (await ModelPointer.ReadAsync(models, name, cancellation)).Current!.Version);
            Assert.False((await checkpointBlob.ExistsAsync(cancellation)).Value);
            Assert.True(lost < 60, $"kill {k} at {killAfter.TotalSeconds:F1} s lost {lost:F1} s of search");
            results.Add(new
            {
                jobSeconds = Math.Round(jobDuration.TotalSeconds, 1),
                killAfterSeconds = Math.Round(killAfter.TotalSeconds, 1),
                killed,
                stage = atKill?.Stage,
                trial = atKill?.Trial,
                savedTrials = checkpoint?["completed"]?.AsArray().Count ?? 0,
                searchedSeconds = Math.Round(searchedSeconds, 1),
                savedSeconds = Math.Round(savedSeconds, 1),
                lostSeconds = Math.Round(lost, 1),
            });
        }

        if (Environment.GetEnvironmentVariable("TRAINER_KILLS_REPORT") is { Length: > 0 } report)
        {
            await File.WriteAllTextAsync(report, JsonSerializer.Serialize(results, Indented), cancellation);
        }
    }

    [Fact]
    public async Task ConsoleLog_CarriesTheTrainingRequestsTraceId()
    {
        // What the Container Apps job writes to Log Analytics is its console: each line of a job must name the upload's
        // trace, so a search by trace id finds the trainer's lines beside the spans.
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        await using var app = new PreprocessingApp();
        using var job = await PrepareJobAsync(app, "trace-log", seed: 12, cancellation);
        var traceId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var request = JsonNode.Parse(await File.ReadAllTextAsync(job.JobFile, cancellation))!;
        request["traceParent"] = $"00-{traceId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}-01";
        await File.WriteAllTextAsync(job.JobFile, request.ToJsonString(), cancellation);

        using var trainer = Start(job.JobFile, ("Trainer__MaxTrials", "2"));
        var output = Capture(trainer);
        using var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        finished.CancelAfter(TimeSpan.FromSeconds(180));
        await trainer.WaitForExitAsync(finished.Token);

        lock (output)
        {
            var text = output.ToString();
            Assert.True(trainer.ExitCode == 0, $"exit {trainer.ExitCode}:\n{text}");
            Assert.Contains("TraceId:" + traceId, text, StringComparison.Ordinal);
        }
    }

    /// <summary>Wall time of one job's trainer process run to completion, from start to exit.</summary>
    private static async Task<TimeSpan> MeasureJobAsync(PreprocessingApp app, CancellationToken cancellation)
    {
        using var job = await PrepareJobAsync(app, "kills-measure", seed: 99, cancellation);
        var clock = Stopwatch.StartNew();
        using var trainer = Start(job.JobFile);
        var output = Capture(trainer);
        using var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        finished.CancelAfter(TimeSpan.FromSeconds(180));
        await trainer.WaitForExitAsync(finished.Token);
        lock (output)
        {
            Assert.True(trainer.ExitCode == 0, $"exit {trainer.ExitCode}:\n{output}");
        }

        return clock.Elapsed;
    }

    /// <summary>Collects a process's stdout and stderr as it runs.</summary>
    private static StringBuilder Capture(Process process)
    {
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    [Fact]
    public async Task Sigterm_CheckpointsWithinSecondsAndExitsNonZero_AndTheNextAttemptResumes()
    {
        await Azurite.EnsureRunningAsync();
        var cancellation = TestContext.Current.CancellationToken;
        var blobs = Azurite.Blobs();
        await using var app = new PreprocessingApp();
        using var job = await PrepareJobAsync(app, "sigterm", seed: 9, cancellation);
        var (name, runId, jobFile) = (job.Name, job.RunId, job.JobFile);

        // The third trial (the first network; ridge / logistic regression and trees take a second or two) is one that only the
        // time budget ends (16 s across attempts), so the run spans both attempts.
        (string, string)[] settings =
        [
            ("Trainer__MaxTrials", "3"), ("Trainer__MaxEpochs", "100000"), ("Trainer__Patience", "10000"),
            ("Trainer__MaxSeconds", "16"), ("Trainer__MaxTrialShare", "1"), ("Trainer__StatusInterval", "00:00:00.300"),
        ];
        var runs = blobs.GetBlobContainerClient(StorageNames.RunsContainer);
        var statusBlob = runs.GetBlobClient(StorageNames.RunStatusPath(runId));
        using (var first = Start(jobFile, settings))
        {
            var output = Capture(first);
            RunStatus? status = null;
            var deadline = Stopwatch.StartNew();
            while (status is not { Stage: "searching", Trial: 3, Epoch: >= 5 })
            {
                lock (output)
                {
                    Assert.False(first.HasExited, $"the trainer ended before it could be stopped:\n{output}");
                }

                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"no training progress in the run status:\n{output}");
                await Task.Delay(200, cancellation);
                status = (await BlobJson.ReadAsync(statusBlob, PipelineJson.Default.RunStatus, cancellation))?.Value;
            }

            Process.Start("kill", ["-TERM", first.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            var stopping = Stopwatch.StartNew();
            using var exited = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            exited.CancelAfter(TimeSpan.FromSeconds(15));
            await first.WaitForExitAsync(exited.Token);
            lock (output)
            {
                Assert.True(first.ExitCode == 3, $"exit {first.ExitCode}:\n{output}");
            }

            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"took {stopping.Elapsed} to checkpoint and exit");
        }

        var checkpoint = JsonNode.Parse((await runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).DownloadContentAsync(cancellation)).Value.Content.ToString())!;
        var checkpointEpoch = checkpoint["current"]!["epoch"]!.GetValue<int>();
        Assert.True(checkpointEpoch >= 5);
        Assert.Equal(2, checkpoint["current"]!["optimizerMoments"]!.AsArray().Count);
        Assert.True(checkpoint["current"]!["optimizerStep"]!.GetValue<long>() > 0);
        var interrupted = (await BlobJson.ReadAsync(statusBlob, PipelineJson.Default.RunStatus, cancellation))!.Value.Value;
        Assert.Equal(RunStates.Interrupted, interrupted.State);
        var models = blobs.GetBlobContainerClient(StorageNames.ModelsContainer);
        await models.CreateIfNotExistsAsync(cancellationToken: cancellation);
        Assert.False((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).ExistsAsync(cancellation)).Value);

        // Attempt 2 resumes: same trial, epochs continue from the checkpoint, and the budget counts both attempts.
        using var second = Start(jobFile, settings);
        var secondOutput = Capture(second);
        using (var finished = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
        {
            finished.CancelAfter(TimeSpan.FromSeconds(90));
            await second.WaitForExitAsync(finished.Token);
        }

        lock (secondOutput)
        {
            Assert.True(second.ExitCode == 0, $"exit {second.ExitCode}:\n{secondOutput}");
            Assert.Contains("resuming from a checkpoint", secondOutput.ToString(), StringComparison.Ordinal);
        }

        var version = JsonNode.Parse((await models.GetBlobClient(StorageNames.CurrentPointerPath(name)).DownloadContentAsync(cancellation)).Value.Content.ToString())!["version"]!.GetValue<string>();
        var manifest = (await BlobJson.ReadAsync(models.GetBlobClient(StorageNames.ModelManifestPath(name, version)), PipelineJson.Default.ModelManifest, cancellation))!.Value.Value;
        Assert.Equal(2, manifest.Training.Attempts);
        Assert.True(manifest.Search!.Trials[2].Epochs > checkpointEpoch);
        Assert.Contains("time budget", manifest.Search.StoppedBy, StringComparison.Ordinal);
        Assert.InRange(manifest.Training.Seconds, 16, 30);
        var done = (await BlobJson.ReadAsync(statusBlob, PipelineJson.Default.RunStatus, cancellation))!.Value.Value;
        Assert.Equal(RunStates.Succeeded, done.State);
        Assert.True(done.Resumed);
        Assert.Equal(2, done.Attempt);
        Assert.False((await runs.GetBlobClient(StorageNames.RunCheckpointPath(runId)).ExistsAsync(cancellation)).Value);
    }
}
