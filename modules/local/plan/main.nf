process PLAN {
    label 'process_single'

    input:
    path run_params      // the run's parameters as JSON (main.nf writes them)
    path tissues_sheet   // the tissues samplesheet; [] without one
    val launch_dir       // what relative paths in the parameters are relative to

    output:
    path 'plan/plan.json', emit: plan   // tissues, readouts, model decisions: main.nf's channels
    path 'versions.yml',   emit: versions

    script:
    def sheet = tissues_sheet ? "--tissues-sheet ${tissues_sheet}" : ''
    """
    seqgx plan --params ${run_params} --launch-dir '${launch_dir}' ${sheet} --out plan/plan.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
    END_VERSIONS
    """

    stub:
    // The real plan even in a stub run: every later channel is built from it (and it takes a second).
    def sheet = tissues_sheet ? "--tissues-sheet ${tissues_sheet}" : ''
    """
    seqgx plan --params ${run_params} --launch-dir '${launch_dir}' ${sheet} --out plan/plan.json
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
