//! One chunk through the command: the workers take chunks in turn, run the command with
//! the chunk on its stdin (re-running a failed chunk up to `--retries` times), and hand its
//! output to the slot of its chunk.

use super::*;

pub(super) fn worker(sh: &Shared, rx: &Mutex<mpsc::Receiver<Chunk>>) {
    loop {
        let chunk = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv() {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        if sh.failed() {
            continue;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut sink = Sink {
                sh,
                seq: chunk.seq,
                spill: None,
            };
            match run_once(sh, &chunk, &mut sink) {
                Ok(None) => {
                    let _ = sink.finish();
                    break;
                }
                Ok(Some((status, tail))) => {
                    sink.discard();
                    if sh.failed() {
                        break;
                    }
                    if attempt <= sh.cfg.retries {
                        sh.lock().stats.retries += 1;
                        continue;
                    }
                    sh.fail(Error::Chunk {
                        seq: chunk.seq,
                        offset: chunk.offset,
                        len: chunk.data.len() as u64,
                        attempts: attempt,
                        command: sh.cmd.display(),
                        status,
                        stderr_tail: tail,
                    });
                    break;
                }
                Err(e) => {
                    sink.discard();
                    sh.fail(e);
                    break;
                }
            }
        }
        sh.recycle_chunk(chunk.data);
    }
}

/// Wait for `child` to end without reaping it (so that its pid cannot be reused while it is
/// still in `running`).
fn wait_unreaped(child: &Child) {
    loop {
        // SAFETY: waitid fills the siginfo we own; WNOWAIT leaves the child waitable.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// One attempt: `Ok(None)` success, `Ok(Some((status, stderr tail)))` the command failed.
fn run_once(
    sh: &Shared,
    chunk: &Chunk,
    sink: &mut Sink,
) -> Result<Option<(String, String)>, Error> {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(&sh.cmd.program);
    c.args(&sh.cmd.args)
        .env("BMAP_CHUNK", chunk.seq.to_string())
        .env("BMAP_CHUNK_OFFSET", chunk.offset.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // The command ends with bmap, even a SIGKILLed bmap: a parent-death signal (sent when
    // the spawning thread ends; it waits for the command, so only bmap's death sends it).
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid, _exit).
    unsafe {
        c.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // bmap died before the prctl took: nobody is left to read the output.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
    let mut child = {
        // Under the lock, so that a failure elsewhere cannot miss this child.
        let mut st = sh.lock();
        if st.error.is_some() {
            return Ok(Some(("was not run".into(), String::new())));
        }
        let child = c
            .spawn()
            .map_err(|e| Error::Spawn(format!("cannot run {}", sh.cmd.display()), e))?;
        st.running.push(child.id());
        if let Some(h) = sh.cfg.child_hook {
            h(child.id(), true);
        }
        child
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    {
        use std::os::unix::io::AsRawFd;
        // Larger pipes: fewer context switches between bmap and the command (the kernel
        // may refuse past /proc/sys/fs/pipe-max-size; the default then stays).
        for fd in [
            stdin.as_ref().map(|p| p.as_raw_fd()),
            stdout.as_ref().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        {
            // SAFETY: fcntl on a pipe descriptor we own; F_SETPIPE_SZ only resizes its buffer.
            unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE) };
        }
    }
    let stderr = child.stderr.take();
    let data = &chunk.data;
    let tail = std::thread::scope(|s| {
        if let Some(mut w) = stdin {
            // A command may stop reading early (head): a closed pipe here is not an error;
            // its exit status says whether it failed.
            s.spawn(move || {
                let _ = w.write_all(data);
            });
        }
        let err = stderr.map(|mut e| {
            s.spawn(move || {
                let mut tail: Vec<u8> = Vec::new();
                let mut buf = vec![0u8; 8192];
                loop {
                    match e.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let _ = io::stderr().write_all(&buf[..n]);
                            tail.extend_from_slice(&buf[..n]);
                            if tail.len() > 2 * TAIL {
                                tail.drain(..tail.len() - TAIL);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                tail
            })
        });
        if let Some(mut o) = stdout {
            let mut stopped = false;
            loop {
                // Filled by reads, cut to what was read.
                let mut block = sh.block();
                let mut filled = 0;
                let mut eof = false;
                while filled < BLOCK {
                    match o.read(&mut block[filled..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            eof = true;
                            break;
                        }
                    }
                }
                block.truncate(filled);
                if !block.is_empty() && !stopped && sink.put(block).is_err() {
                    // Another chunk failed or the output closed: stop this command too.
                    stopped = true;
                    // SAFETY: the process group of our child, not yet reaped.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
                }
                if eof {
                    break;
                }
            }
        }
        err.and_then(|h| h.join().ok()).unwrap_or_default()
    });
    wait_unreaped(&child);
    {
        let mut st = sh.lock();
        let id = child.id();
        st.running.retain(|&p| p != id);
        if let Some(h) = sh.cfg.child_hook {
            h(id, false);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Spawn(format!("cannot wait for {}", sh.cmd.display()), e))?;
    if status.success() {
        return Ok(None);
    }
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".to_string(),
    };
    let start = tail.len().saturating_sub(TAIL);
    let text = String::from_utf8_lossy(&tail[start..]);
    let text = text.trim_end().replace('\n', " / ");
    Ok(Some((how, text)))
}
